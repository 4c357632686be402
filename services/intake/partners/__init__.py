"""Partners (issue 20): the sites that bring companies' requests to MonLycéePro.

A partner (Les Entreprises s'Engagent, a public service) is registered by an admin
(``monlyceepro partner …``) with the origins of its site. It may embed the request form
(``/integrer/{slug}``, framed only by those origins), call the API with its own keys
(hashed, scoped, rate limited) from its servers or, through CORS, from those origins, and read
a private summary of the requests it brought. Every such request is attributed to it
(``RequestSource`` ``embed`` or ``partner_api`` with its slug).

Modules: ``models`` (tables), ``repository`` (SQL), ``keys`` and ``origins`` (rules, no framework),
``registry`` (the in-memory copy of enabled partners' origins), ``summary`` (figures), ``auth``,
``api``, ``pages``, ``cors`` (the HTTP edge) and ``cli`` (``monlyceepro partner``).
"""
