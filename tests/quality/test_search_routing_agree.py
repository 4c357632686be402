"""The lycées a company sees on the search page for a job and a place are the ones its request goes to:
the catalog's search and the matcher's routing share the resolver and the relevance (shared.reference.jobs)."""

from __future__ import annotations

import uuid

import pytest

from services.catalog.service.queries import search_lycees
from services.matcher.service import RoutingQuery, decide
from shared.reference.geo import load_communes, territory_of
from tests.matcher.fakes import TODAY

CASES = [
    ("boulanger", "69387"), ("électricien", "35238"), ("aide-soignante", "13201"), ("peintre automobile", "31555"),
    ("employé de restauration collective", "86194"), ("cuisinier", "97411"), ("maçon", "15014"),
    ("coiffeuse", "03310"), ("mécanicien automobile", "76540"), ("cariste", "59350"), ("plombier", "06088"),
    ("vendeuse", "44109"), ("MELEC", "57463"), ("menuisier", "88160"), ("fleuriste", "49007"),
]
TOP = 10


@pytest.mark.parametrize("job, insee", CASES)
def test_routing_recipients_are_among_the_first_search_results(real_catalog, job, insee):
    communes = load_communes()
    commune = communes.by_insee[insee]
    query = RoutingQuery(request_id=uuid.uuid4(), needs=["pfmp"], jobs=[job], naf=None, latitude=commune.latitude,
                         longitude=commune.longitude, territory=territory_of(commune.departement), academie=None,
                         commune_name=commune.name)
    decision = decide(real_catalog.model, query, k=3, steps=[30, 60, 100, 150], loads={}, today=TODAY)
    assert not decision.unroutable
    page = search_lycees(real_catalog.index, communes, job=job, insee=insee, radius_km=decision.radius_km,
                         per_page=TOP)
    shown = {u for r in page.results for u in r.uais}
    for recipient in decision.recipients:
        assert set(recipient.uais) & shown, (recipient.lycees, [r.name for r in page.results])
