"""« Qu'est-ce qui en est sorti ? » over real SMTP with the controllable clock: asked on schedule and not
before, answered once (replay, another choice, tampering refused), « rien pour l'instant » asked exactly
once more, no answer no more emails; the answer is published through the outbox."""

from __future__ import annotations

import html
import json
import re
import uuid
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from services.notifier.app import create_app
from services.notifier.models import ActionUse, OutboundEmail, Thread
from services.notifier.outcomes.models import OutcomeQuestion
from services.notifier.sender import OutboundSender
from services.notifier.service import threads
from services.notifier.service.addresses import make_outcome_token
from services.notifier.tasks import outcome_pass
from shared.contracts.events import RequestErased
from shared.platform.db import unit_of_work
from shared.platform.outbox import OutboxEvent
from tests.notifier.support import COMPANY, COPY, LEAD, routed_event, run, take_request

pytestmark = pytest.mark.timeout(120)
SUBJECT = "Qu'est-ce qui en est sorti ?"


@pytest.fixture
def client(settings, database_url, clock, engine):
    app = create_app(
        settings.model_copy(update={"database_url": database_url, "inbound_enabled": False}), clock
    )
    return TestClient(app)


def _send(engine, ctx, clock) -> None:
    run(OutboundSender(engine, ctx.settings, clock).send_due())


def _outcome_mails(sink, to: str) -> list[EmailMessage]:
    return [m for m in sink.to(to) if m["Subject"].startswith(SUBJECT)]


def _choices(mail: EmailMessage) -> dict[str, str]:
    text = mail.get_body(("plain",)).get_content()
    return {
        label: "/suite/" + url.rsplit("/suite/", 1)[1]
        for label, url in re.findall(r"^- ([^:\n]+) : (http\S+/suite/\S+)", text, re.MULTILINE)
    }


def _recorded(engine) -> list[dict]:
    with Session(engine) as session:
        rows = session.exec(select(OutboxEvent).where(OutboxEvent.event_type == "outcome.recorded")).all()
    return [json.loads(r.payload)["data"] for r in rows]


def _taken_request(engine, ctx) -> None:
    """One thread taken by its lead's « Je m'en occupe » (its first human answer), and one nobody took."""
    with unit_of_work(engine) as session:
        threads.start_thread(session, ctx, routed_event())
    take_request(engine, ctx)


def _asked(engine, ctx, clock) -> None:
    """A taken request, 30 days later: its two outcome emails sent."""
    _taken_request(engine, ctx)
    clock.advance(days=30)
    assert outcome_pass(engine, ctx)["asked"] == 2
    _send(engine, ctx, clock)


def test_taken_request_asks_company_and_answerer_on_schedule_once(engine, ctx, clock, sink, client):
    _taken_request(engine, ctx)
    _send(engine, ctx, clock)
    clock.advance(days=29, hours=23)
    assert outcome_pass(engine, ctx) == {"asked": 0, "asked_again": 0}  # one hour short of 30 days
    _send(engine, ctx, clock)
    assert _outcome_mails(sink, COMPANY) == [] and _outcome_mails(sink, LEAD) == []
    clock.advance(hours=1)
    assert outcome_pass(engine, ctx) == {"asked": 2, "asked_again": 0}
    assert outcome_pass(engine, ctx) == {"asked": 0, "asked_again": 0}  # restart-safe: asked once
    _send(engine, ctx, clock)
    company_mails, lead_mails = _outcome_mails(sink, COMPANY), _outcome_mails(sink, LEAD)
    assert len(company_mails) == 1 and len(lead_mails) == 1
    assert _outcome_mails(sink, COPY) == []  # only the RBE who answered
    assert "un lycée a répondu à votre demande" in company_mails[0].get_body(("plain",)).get_content()
    choices = _choices(company_mails[0])
    assert list(choices) == [
        "PFMP accueillie",
        "Apprenti·e recruté·e",
        "Embauche",
        "Intervention en classe",
        "Visite",
        "Autre action",
        "Rien pour l'instant",
        "Pas de suite",
    ]
    assert "Je m'en occupe" not in lead_mails[0].get_body(("plain",)).get_content()

    # GET changes nothing (mail scanners prefetch links); POST records once, with the free text.
    page = client.get(choices["PFMP accueillie"])
    assert (
        page.status_code == 200
        and "PFMP accueillie" in html.unescape(page.text)
        and 'name="note"' in html.unescape(page.text)
    )
    assert _recorded(engine) == []
    done = client.post(choices["PFMP accueillie"], data={"note": "Deux élèves de CAP en mars."})
    assert done.status_code == 200 and "C'est enregistré" in html.unescape(done.text)
    [event] = _recorded(engine)
    assert (event["kind"], event["respondent"], event["note"], event["asked_round"]) == (
        "pfmp",
        "company",
        "Deux élèves de CAP en mars.",
        1,
    )

    # Replaying the link, or another choice of the same email: refused, nothing recorded twice.
    replay = client.post(choices["PFMP accueillie"], data={"note": "encore"})
    assert (
        replay.status_code == 410
        and "déjà été utilisé" in html.unescape(replay.text)
        and "PFMP accueillie" in html.unescape(replay.text)
    )
    other = client.post(choices["Pas de suite"])
    assert other.status_code == 410 and "déjà été utilisé" in html.unescape(other.text)
    assert client.get(choices["Embauche"]).status_code == 410
    # A tampered link (another choice forged on the same signature) is refused.
    tampered = choices["Embauche"][:-3] + ("AAA" if not choices["Embauche"].endswith("AAA") else "BBB")
    refused = client.post(tampered)
    assert refused.status_code == 400 and "n'est pas valide" in html.unescape(refused.text)
    forged = make_outcome_token("not-the-secret", "x" * 32, "pfmp")
    assert client.post(f"/suite/{forged}").status_code == 400
    assert len(_recorded(engine)) == 1
    with Session(engine) as session:
        assert len(session.exec(select(ActionUse)).all()) == 2  # the « Je m'en occupe », the answer

    # Nobody else is ever asked again: the untaken thread, the company that answered.
    clock.advance(days=400)
    assert outcome_pass(engine, ctx) == {"asked": 0, "asked_again": 0}


def test_nothing_yet_asks_exactly_one_more_question(engine, ctx, clock, sink, client):
    _asked(engine, ctx, clock)
    nothing_yet = _choices(_outcome_mails(sink, LEAD)[0])["Rien pour l'instant"]
    done = client.post(nothing_yet, data={"note": ""})
    assert done.status_code == 200 and "reposerons la question" in html.unescape(done.text)
    clock.advance(days=59, hours=23)
    assert outcome_pass(engine, ctx) == {"asked": 0, "asked_again": 0}
    clock.advance(hours=1)
    assert outcome_pass(engine, ctx) == {"asked": 0, "asked_again": 1}
    assert outcome_pass(engine, ctx) == {"asked": 0, "asked_again": 0}
    _send(engine, ctx, clock)
    lead_mails = _outcome_mails(sink, LEAD)
    assert len(lead_mails) == 2 and len(_outcome_mails(sink, COMPANY)) == 1  # the company never answered
    assert "Où en êtes-vous" in lead_mails[1].get_body(("plain",)).get_content()
    again = client.post(_choices(lead_mails[1])["Rien pour l'instant"])
    assert again.status_code == 200 and "reposerons" not in html.unescape(again.text)
    clock.advance(days=365)
    assert outcome_pass(engine, ctx) == {"asked": 0, "asked_again": 0}
    _send(engine, ctx, clock)
    assert len(_outcome_mails(sink, LEAD)) == 2
    assert [(e["kind"], e["asked_round"], e["respondent"]) for e in _recorded(engine)] == [
        ("rien_encore", 1, "rbe"),
        ("rien_encore", 2, "rbe"),
    ]
    with Session(engine) as session:
        rows = session.exec(select(OutboundEmail).where(OutboundEmail.kind == "outcome")).all()
        questions = session.exec(select(OutcomeQuestion)).all()
    assert len(rows) == 3 and {r.status for r in rows} == {"sent"}
    assert sorted((q.respondent, q.asked_round) for q in questions) == [
        ("company", 1),
        ("rbe", 1),
        ("rbe", 2),
    ]


def test_a_too_long_note_is_refused_in_french_and_records_nothing(engine, ctx, clock, sink, client):
    _asked(engine, ctx, clock)
    link = _choices(_outcome_mails(sink, COMPANY)[0])["Visite"]
    refused = client.post(link, data={"note": "x" * 1001})
    assert refused.status_code == 422 and "trop longue" in html.unescape(refused.text)
    assert _recorded(engine) == []
    assert client.post(link, data={"note": "Visite de l'atelier en janvier."}).status_code == 200


def test_erasing_the_request_wipes_the_notes_and_refuses_its_links(engine, ctx, clock, sink, client):
    _asked(engine, ctx, clock)
    said = client.post(
        _choices(_outcome_mails(sink, LEAD)[0])["Visite"], data={"note": "Visite le 12 janvier."}
    )
    assert said.status_code == 200
    with Session(engine) as session:
        thread = session.exec(select(Thread).where(Thread.first_answer_at.is_not(None))).one()
    with unit_of_work(engine) as session:
        threads.erase(
            session,
            ctx,
            RequestErased(
                correlation_id="t", request_id=uuid.UUID(thread.request_id), reason="company_request"
            ),
        )
    with Session(engine) as session:
        assert [q.note for q in session.exec(select(OutcomeQuestion))] == ["", ""]
    refused = client.get(_choices(_outcome_mails(sink, COMPANY)[0])["Visite"])
    assert refused.status_code == 410 and "effacée" in html.unescape(refused.text)


def test_the_reminders_command_asks_too(engine, ctx, clock, sink, database_url, monkeypatch, capsys):
    from services.notifier import cli

    _taken_request(engine, ctx)  # taken Monday 23 Nov 2026, 09:00 UTC
    monkeypatch.setenv("MLP_DATABASE_URL", database_url)
    assert cli.reminders(["--now", "2026-12-23T08:00:00+00:00"]) == 0
    assert "sorti ? » : 0" in capsys.readouterr().out
    assert cli.reminders(["--now", "2026-12-23T09:00:00+00:00"]) == 0
    assert "sorti ? » : 2 (dont reposées : 0)" in capsys.readouterr().out
    assert cli.reminders(["--now", "2026-12-23T09:00:00+00:00"]) == 0
    assert "sorti ? » : 0" in capsys.readouterr().out


def test_concurrent_clicks_on_one_question_record_one_answer(engine, ctx, clock, sink, client):
    """Several choices of one email clicked at the same moment (a double click, two colleagues): one is
    recorded and published, the others are told it is already answered, never a 500 nor a second event."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy.exc import IntegrityError

    from services.notifier.outcomes import questions

    _asked(engine, ctx, clock)
    links = _choices(_outcome_mails(sink, COMPANY)[0])
    tokens = [links[label].rsplit("/", 1)[1] for label in ("Visite", "Embauche", "Visite", "Autre action")] * 2
    start = threading.Barrier(len(tokens))

    def click(token: str) -> str:
        start.wait()
        try:
            with unit_of_work(engine) as session:
                return questions.answer(session, ctx, token).kind
        except questions.OutcomeRefused as exc:
            return f"refused:{exc.reason}"
        except IntegrityError:  # what the page turns into « already answered »
            return "refused:used"

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        outcomes = list(pool.map(click, tokens))
    recorded = [o for o in outcomes if not o.startswith("refused:")]
    assert len(recorded) == 1, outcomes
    assert sorted(set(outcomes) - set(recorded)) == ["refused:used"], outcomes
    assert [(e["kind"], e["respondent"]) for e in _recorded(engine)] == [(recorded[0], "company")]
    with Session(engine) as session:
        answered = [q for q in session.exec(select(OutcomeQuestion)).all() if q.answered_at is not None]
    assert [(q.respondent, q.kind) for q in answered] == [("company", recorded[0])]
