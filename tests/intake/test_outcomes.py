"""Outcomes in intake (issue 21), on SQLite and PostgreSQL with a real Redis: ``OutcomeRecorded`` consumed
once, shown on the status page, erased with the request; the impact page and its JSON (v2, and v1 kept
with a Deprecation header) count interactions and joint actions with small counts hidden; ops get the
same figures as Prometheus gauges."""

from __future__ import annotations

import html
import json
import time
import uuid
from datetime import UTC, datetime

import redis as redis_sync
from sqlmodel import Session, select

from services.intake import handlers, repository
from services.intake.outcomes.models import RequestOutcome
from shared.contracts.events import (
    OutcomeRecorded,
    event_to_payload,
)
from shared.platform.db import unit_of_work
from tests.intake.outcome_support import LYCEE, outcome, route_and_answer
from tests.intake.support import body, engine_of
from tests.support.eventually import eventually


def _submit(client, n: int) -> list[tuple[str, str]]:
    """n requests: (request id, status token)."""
    out = []
    for i in range(n):
        response = client.post(
            "/api/v1/requests", json=body(contact__email=f"contact{i}@boulangerie-dupont.fr")
        )
        assert response.status_code == 202, response.text
        data = response.json()
        out.append((data["request_id"], data["status_url"].rsplit("/", 1)[1]))
    return out


def _route_and_answer(client, request_id: str, answered: bool = True) -> None:
    with unit_of_work(engine_of(client)) as session:
        route_and_answer(session, request_id, answered=answered)


def _apply(client, event: OutcomeRecorded) -> None:
    with unit_of_work(engine_of(client)) as session:
        handlers.on_outcome(event, session)


def test_outcomes_reach_the_status_page_once_and_the_impact_figures(database_url, make_client, redis_url):
    client = make_client(database_url)
    requests = _submit(client, 7)
    for request_id, _ in requests[:6]:
        _route_and_answer(client, request_id)
    _route_and_answer(client, requests[6][0], answered=False)
    with unit_of_work(engine_of(client)) as session:
        repository.update_request(session, requests[5][0], source_kind="campaign", source_partner="lese")

    # Through the real stream: the company's answer, delivered twice (a redelivery has no effect).
    first_id, first_token = requests[0]
    said = outcome(first_id, "pfmp", note="Deux élèves de CAP en mars.")
    eventually(lambda: client.app.state.runtime.broker_ready.is_set(), timeout=15)
    time.sleep(0.3)  # let the consumer groups be created before the first XADD
    r = redis_sync.Redis.from_url(redis_url)
    for _ in range(2):
        r.xadd(said.stream, {"__data__": json.dumps(event_to_payload(said))})
    eventually(
        lambda: any(
            e["kind"] == "outcome" for e in client.get(f"/api/v1/suivi/{first_token}").json()["timeline"]
        ),
        timeout=15,
    )
    # The same outcome again under another event id (the notifier's outbox republished it): still once.
    _apply(client, said.model_copy(update={"event_id": uuid.uuid4()}))
    # The lycée says the same: one PFMP, not two. Four more PFMP, one hire, one « rien pour l'instant ».
    _apply(client, outcome(first_id, "pfmp", respondent="rbe"))
    for request_id, _ in requests[1:5]:
        _apply(client, outcome(request_id, "pfmp"))
    _apply(client, outcome(requests[1][0], "embauche", respondent="rbe"))
    _apply(client, outcome(requests[5][0], "rien_encore"))

    status = client.get(f"/api/v1/suivi/{first_token}").json()
    outcomes = [e for e in status["timeline"] if e["kind"] == "outcome"]
    assert [(e["title"], e["text"]) for e in outcomes] == [
        ("Suite de la demande : PFMP accueillie (indiquée par vous)", "Deux élèves de CAP en mars."),
        (f"Suite de la demande : PFMP accueillie (indiquée par {LYCEE})", None),
    ]
    page = html.unescape(client.get(f"/suivi/{first_token}").text)
    assert (
        "Suite de la demande : PFMP accueillie (indiquée par vous)" in page and "Deux élèves de CAP" in page
    )

    v2 = client.get("/api/v2/impact", params={"period": "30j"}).json()
    totals = v2["totals"]
    assert v2["threshold"] == 5
    assert (totals["received"], totals["routed"], totals["interactions"]) == (7, 7, 6)
    assert totals["answer_rate_percent"] == 86 and totals["median_hours_to_first_answer"] == 3.0
    assert totals["actions"]["pfmp"] == 5 and totals["actions"]["embauche"] is None  # 1: « moins de 5 »
    assert totals["actions"]["visite"] == 0 and totals["actions_total"] == 6
    by_source = {s["source"]: s for s in v2["by_source"]}
    assert by_source["form"]["interactions"] == 5 and by_source["campaign"]["interactions"] is None
    assert by_source["campaign"]["answer_rate_percent"] is None  # never a rate of one request
    assert [(p["partner"], p["interactions"]) for p in v2["by_partner"]] == [("lese", None)]
    assert [a["academie"] for a in v2["by_academie"]] == ["Lyon"]
    assert v2["actions_by_month"][-1]["actions"] == 6
    assert {n["need"] for n in v2["by_need"]} == {"pfmp", "apprentissage"}

    v1 = client.get("/api/v1/impact", params={"period": "30j"})
    assert v1.status_code == 200 and v1.headers["Deprecation"] == "true"
    assert "/api/v2/impact" in v1.headers["Link"] and v1.json()["totals"]["answered"] == 6

    impact_page = html.unescape(client.get("/impact", params={"periode": "30j"}).text)
    assert "moins de 5" in impact_page and 'role="img"' in impact_page
    assert '<title id="graphe-titre">Actions conjointes par mois</title>' in impact_page
    assert "Actions conjointes par mois (données du graphique)" in impact_page
    assert "Demandes par partenaire" in impact_page

    scraped = client.get("/metrics").text
    assert 'mlp_impact_joint_actions{academie="Lyon",kind="pfmp"} 5.0' in scraped
    assert 'mlp_impact_interactions{academie="Lyon"} 6.0' in scraped
    assert 'mlp_impact_answer_rate{academie="all"}' in scraped
    assert (
        'mlp_impact_interactions_by_source{source="campaign"} 1.0' in scraped
    )  # exact: ops are not the public
    assert 'mlp_impact_joint_actions_by_source{kind="embauche",source="form"} 1.0' in scraped
    assert 'mlp_impact_interactions_by_need{need="pfmp"} 6.0' in scraped

    # Erasing the request erases the respondents' words too.
    assert client.delete(f"/api/v1/suivi/{first_token}").status_code == 200
    with Session(engine_of(client)) as session:
        notes = [
            o.note for o in session.exec(select(RequestOutcome).where(RequestOutcome.request_id == first_id))
        ]
    assert notes == ["", ""]


def test_an_outcome_for_an_unknown_request_is_ignored(database_url, make_client):
    client = make_client(database_url)
    _apply(client, outcome(str(uuid.uuid4()), "visite"))
    with Session(engine_of(client)) as session:
        assert session.exec(select(RequestOutcome)).all() == []


def test_the_notifier_s_outcome_reaches_the_company_s_status_page(
    database_url, make_client, redis_url, tmp_path
):
    """Both sides of the contract: the event the notifier's outbox holds after a click, put on the stream as
    its relay does, is what intake's consumer stores and shows."""
    from services.notifier.config import NotifierSettings
    from services.notifier.migrations import SCHEMA as NOTIFIER_SCHEMA
    from services.notifier.outcomes import questions
    from services.notifier.outcomes.models import OutcomeQuestion
    from services.notifier.service.addresses import make_outcome_token
    from services.notifier.service.mailer import NotifierContext
    from services.notifier.tasks import outcome_pass
    from shared.platform.db import make_engine
    from shared.platform.migrations import upgrade
    from shared.platform.outbox import OutboxEvent
    from tests.notifier.support import take_request
    from tests.support.clock import FakeClock

    client = make_client(database_url)
    [(request_id, token)] = _submit(client, 1)
    _route_and_answer(client, request_id)
    clock = FakeClock(datetime.now(UTC))
    ctx = NotifierContext(
        NotifierSettings(env="test", var_dir=tmp_path, smtp_url="smtp://127.0.0.1:9"), clock
    )
    notifier = make_engine(f"sqlite:///{tmp_path}/notifier.db")
    upgrade(NOTIFIER_SCHEMA, notifier)
    take_request(notifier, ctx, request_id=uuid.UUID(request_id))
    clock.advance(days=30)
    assert outcome_pass(notifier, ctx)["asked"] == 2
    with unit_of_work(notifier) as session:
        asked = session.exec(select(OutcomeQuestion).where(OutcomeQuestion.respondent == "company")).one()
        questions.answer(
            session,
            ctx,
            make_outcome_token(ctx.settings.secret_key, asked.id, "embauche"),
            "Un CDI de boulanger.",
        )
    with Session(notifier) as session:
        row = session.exec(select(OutboxEvent).where(OutboxEvent.event_type == "outcome.recorded")).one()
    notifier.dispose()

    eventually(lambda: client.app.state.runtime.broker_ready.is_set(), timeout=15)
    time.sleep(0.3)  # let the consumer groups be created before the first XADD
    redis_sync.Redis.from_url(redis_url).xadd(row.stream, {"__data__": row.payload})
    shown = eventually(
        lambda: [
            e for e in client.get(f"/api/v1/suivi/{token}").json()["timeline"] if e["kind"] == "outcome"
        ],
        timeout=15,
    )
    assert [(e["title"], e["text"]) for e in shown] == [
        ("Suite de la demande : Embauche (indiquée par vous)", "Un CDI de boulanger.")
    ]
