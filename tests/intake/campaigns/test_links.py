"""The invitation's links at the HTTP level: the signed link opens the form pre-filled and the request
posted from it is attributed to the campaign (from the token, server-side); the RFC 8058 one-click
unsubscribe is honoured by every later import and send; the funnel counts it all; contacts are
erased after their period; the privacy page says so."""

from __future__ import annotations

import argparse
import contextlib
import html
import io
import re
from collections import Counter
from datetime import timedelta
from urllib.parse import urlparse

from sqlalchemy import update
from sqlmodel import Session, select

from services.intake.campaigns import funnel
from services.intake.campaigns.cli import _send, stats_command
from services.intake.campaigns.models import CampaignContact, CampaignInvitation, Unsubscribed
from services.intake.models import CompanyRequest
from services.intake.tasks import run_contact_retention
from shared.platform.clock import utcnow
from tests.intake.campaigns.support import (
    SECRET,
    TOKENS,
    companies,
    contacts,
    count,
    csv_text,
    import_text,
    row_of,
)
from tests.intake.support import engine_of


def _links(message) -> tuple[str, str]:
    text = message.get_body(("plain",)).get_content()
    invitation = re.search(r"http://intake\.test(/invitation/\S+)", text).group(1)
    unsubscribe = re.search(r"<http://intake\.test(/desinscription/\S+)>", message["List-Unsubscribe"]).group(1)
    return invitation, unsubscribe


def _field(page: str, name: str) -> str:
    return html.unescape(re.search(rf'name="{name}"(?: id="[^"]*")?\s+value="([^"]*)"', page).group(1))


def _send_all(client, sink, name: str) -> None:
    settings = client.app.state.intake.settings.model_copy(update={"smtp_url": sink.url})
    args = argparse.Namespace(name=name, rate=None, all_academies=True, retry_uncertain=False)
    assert _send(engine_of(client), settings, args) == 0


def test_invitation_link_unsubscribe_funnel_and_retention(make_client, sink):
    client = make_client(secret_key=SECRET, campaign_rate_per_min=60_000)
    engine = engine_of(client)
    group = companies(5)
    import_text(engine, csv_text([row_of(c) for c in group]), "printemps", partner="lees")
    _send_all(client, sink, "printemps")
    assert Counter(m.to for m in sink.snapshot()) == Counter({c.email: 1 for c in group})
    first, second, third = (sink.to(c.email)[0] for c in group[:3])

    # 1. The signed link opens the form, pre-filled with what the file knows.
    invitation, _ = _links(first)
    page = client.get(invitation)
    assert page.status_code == 200
    assert "ce formulaire est prérempli" in page.text
    for name, value in {"entreprise": group[0].name, "nom": group[0].contact, "email": group[0].email,
                        "siret": group[0].siret, "naf": group[0].naf}.items():
        assert _field(page.text, name) == value
    token = invitation.rsplit("/", 1)[1]
    assert _field(page.text, "invitation") == token
    assert _field(page.text, "lieu").endswith(f"({contacts(engine)[0].postal_code})")

    # 2. The company checks, completes (its need, its consent) and sends: attributed to the campaign.
    form = {name: _field(page.text, name) for name in ("form_token", "invitation", "entreprise", "nom", "email",
                                                       "siret", "naf", "lieu", "commune_insee", "uai")}
    form.update({"besoins": ["pfmp"], "consentement": "oui", "rayon_km": "30", "site_web": "", "metiers": ["Vendeur"]})
    posted = client.post("/demande", data=form, follow_redirects=False)
    assert posted.status_code == 303, posted.text
    stored = contacts(engine)
    with Session(engine) as session:
        request = session.exec(select(CompanyRequest)).one()
        campaign_id = stored[0].campaign_id
        assert (request.source_kind, request.source_campaign, request.source_partner, request.channel) == (
            "campaign", campaign_id, "lees", "form")
        assert request.siret == group[0].siret and request.contact_email == group[0].email
        contact = session.get(CampaignContact, stored[0].id)
        assert contact.opened_at is not None and contact.request_id == request.id

    # A forged token (one character changed) is not a campaign's: the request is a plain form request.
    second_page = client.get(_links(second)[0])
    forged = dict(form, form_token=_field(second_page.text, "form_token"),
                  invitation=_field(second_page.text, "invitation")[:-2] + "xx",
                  email=group[1].email, siret=group[1].siret)
    assert client.post("/demande", data=forged, follow_redirects=False).status_code == 303
    with Session(engine) as session:
        kinds = Counter(r.source_kind for r in session.exec(select(CompanyRequest)))
    assert kinds == Counter({"campaign": 1, "form": 1})

    # 3. Unsubscribe: GET asks, POST (one-click, RFC 8058) unsubscribes without confirmation.
    _, unsubscribe = _links(third)
    confirm = client.get(unsubscribe)
    assert confirm.status_code == 200 and "Confirmer la désinscription" in confirm.text
    assert count(engine, Unsubscribed) == 0
    done = client.post(unsubscribe, content=b"List-Unsubscribe=One-Click",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200 and "Vous ne recevrez plus d'invitation" in done.text
    assert client.post(unsubscribe).status_code == 200  # twice: still fine
    assert client.post("/desinscription/faux").status_code == 404
    with Session(engine) as session:
        gone = session.get(CampaignContact, stored[2].id)
        assert (gone.contact_email, gone.siret, gone.erasure_reason) == (None, None, "unsubscribed")
        assert session.exec(select(Unsubscribed)).one().address_hash == TOKENS.hash(group[2].email)
    assert client.get(_links(third)[0]).status_code == 404  # its invitation link no longer opens anything

    # ...honoured by the next campaign: refused at import, and never invited again.
    again = import_text(engine, csv_text([row_of(group[2]), row_of(companies(1, start=100)[0])]), "ete")
    assert [str(r) for r in again.refusals] == [
        "ligne 2, colonne « Email du contact » : Adresse désinscrite : elle ne reçoit plus d'invitation."]
    _send_all(client, sink, "ete")
    assert len(sink.to(group[2].email)) == 1 and len(sink.snapshot()) == 6

    # 4. The funnel: 5 invited, 2 opened the link, 1 submitted through it; then the RBE answers.
    with Session(engine) as session:
        session.execute(update(CompanyRequest).values(first_answered_at=utcnow()).where(
            CompanyRequest.source_kind == "campaign"))  # type: ignore[arg-type]
        session.commit()
        [spring] = funnel.funnels(session, "printemps")
    assert spring.total.as_dict() == {"contacts": 5, "invited": 5, "opened": 2, "submitted": 1, "answered": 1}
    assert spring.attributed_requests == 1
    academie = stored[0].academie
    assert spring.by_academie[academie].submitted == 1
    assert sum(c.invited for c in spring.by_academie.values()) == 5
    # Not capsys: the app configured the logs on the test's stdout, which capsys would close after the test.
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert stats_command(client.app.state.intake.settings, argparse.Namespace(name="printemps")) == 0
    text = out.getvalue()
    assert "Campagne « printemps » (partenaire : lees)" in text
    assert "invités → lien ouvert → demande déposée → réponse : 5 → 2 → 1 → 1 (40 % ouvrent, 20 % déposent" in text
    assert re.search(rf"  {re.escape(academie[:28])} +\d+ +\d+ +\d+ +1 +1\n", text)
    assert re.search(r"  total +5 +5 +2 +1 +1\n", text)

    # 5. Retention: 6 months after the last invitation, the contacts' personal data is gone;
    # the unsubscribed address stays a hash, and the funnel's figures stay.
    settings = client.app.state.intake.settings
    assert run_contact_retention(engine, settings) == 0
    with Session(engine) as session:
        old = utcnow() - timedelta(days=settings.campaign_contact_retention_days + 1)
        session.execute(update(CampaignInvitation).values(sent_at=old))  # type: ignore[arg-type]
        session.execute(update(CampaignContact).values(imported_at=old))  # type: ignore[arg-type]
        session.commit()
    assert run_contact_retention(engine, settings) == 5  # 6 contacts, one erased already (unsubscribed)
    assert all(c.contact_email is None and c.company_name is None and c.erased_at for c in contacts(engine))
    assert count(engine, Unsubscribed) == 1
    with Session(engine) as session:
        assert funnel.funnels(session, "printemps")[0].total.as_dict()["submitted"] == 1
        assert session.exec(select(CompanyRequest).where(  # the request itself follows intake's own retention
            CompanyRequest.source_kind == "campaign")).one().contact_email == group[0].email

    # 6. The privacy page says all this.
    privacy = client.get("/confidentialite").text
    assert "Invitations envoyées aux entreprises" in privacy
    assert "183 jours (environ 6 mois) après la dernière invitation" in privacy
    assert "une empreinte de votre adresse électronique" in privacy
    assert urlparse(invitation).path.startswith("/invitation/")
