"""Invitation campaigns (issue 20): a partner's file of companies, invited one by one to the form.

``monlyceepro campaign import FILE.csv --name NAME [--partner SLUG]`` checks each row the way intake
checks a request (SIRET, email, commune or postal code, NAF), refuses duplicates (within the file,
against earlier imports, against companies intake already served, against unsubscribed addresses)
and imports the valid rows in one transaction. ``campaign send NAME`` sends each contact of the
pilot académies one personal invitation (``shared.platform.mailing``: throttled, resumable, at most
once), with a signed link to the form pre-filled from the file and an RFC 8058 unsubscribe link.
``campaign stats`` shows the funnel. Contacts are erased after ``MLP_CAMPAIGN_CONTACT_RETENTION_DAYS``;
an unsubscribed address is kept only as a keyed hash, and honoured forever.

Modules: ``models`` (tables), ``repository`` (SQL), ``tokens`` (signed links, address hashes),
``importer`` (reading and checking a file), ``invitations`` (who is invited, the message),
``contacts`` (opening a link, attributing a request, unsubscribing), ``attribution`` (what the form's
POST asks of them), ``funnel`` (the figures),
``retention`` (erasing contacts), ``pilot`` (the pilot académies), ``pages`` (the HTTP edge) and
``cli`` (``monlyceepro campaign``). Documentation: docs/campaigns.md.
"""
