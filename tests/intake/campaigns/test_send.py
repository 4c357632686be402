"""`campaign send`: one personal invitation per contact of the pilot académies, to a real SMTP sink;
throttled; resumable after a crash (a real process killed with SIGKILL, and a crash injected in
the SMTP-accepted-but-not-recorded window) without sending anything twice."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlmodel import Session

from services.intake.campaigns.cli import _send, parse_rate
from services.intake.campaigns.invitations import InvitationComposer
from services.intake.campaigns.models import CampaignInvitation, Unsubscribed
from services.intake.campaigns.pilot import in_pilot, pilot_academies
from services.intake.config import IntakeSettings
from shared.platform.clock import utcnow
from shared.platform.db import table_of
from shared.platform.mailing import LeasedMailer
from tests.intake.campaigns.support import (
    SECRET,
    TOKENS,
    campaign_id,
    companies,
    contacts,
    csv_text,
    import_text,
    invitation_states,
    prepare_all,
    row_of,
)
from tests.support.live import ROOT, sigkill_when

BASE = "http://intake.test"


def settings_for(engine, sink, **overrides) -> IntakeSettings:
    values = dict(env="test", database_url=str(engine.url.render_as_string(hide_password=False)),
                  smtp_url=sink.url, secret_key=SECRET, public_base_url=BASE, campaign_rate_per_min=60_000,
                  log_level="WARNING")
    values.update(overrides)
    return IntakeSettings(**values)  # type: ignore[arg-type]


def send(engine, settings, name, **options) -> int:
    args = argparse.Namespace(name=name, rate=options.get("rate"), all_academies=options.get("all_academies", False),
                              retry_uncertain=options.get("retry_uncertain", False))
    return _send(engine, settings, args)


def mailer(engine, name, sink, **kw) -> LeasedMailer:
    composer = InvitationComposer(TOKENS, base_url=BASE, mail_from="MonLycéePro <ne-pas-repondre@mlp.test>",
                                  retention_days=183)
    return LeasedMailer(engine, table_of(CampaignInvitation), campaign_id(engine, name), composer,
                        **{"smtp_url": sink.url, **kw})


def received(sink) -> Counter:
    return Counter(m.to for m in sink.snapshot())


def test_invitations_go_to_the_pilot_academies_once_each(engine, sink, monkeypatch, capsys):
    group = companies(40)
    import_text(engine, csv_text([row_of(c) for c in group]), "pilote", partner="lees")
    first_academie = contacts(engine)[0].academie
    monkeypatch.setenv("MLP_PILOT_ACADEMIES", first_academie)
    settings = settings_for(engine, sink)
    pilot = pilot_academies(settings)
    inside = [c for c in contacts(engine) if in_pilot(c.academie, pilot)]
    assert 0 < len(inside) < 40

    assert send(engine, settings, "pilote") == 0
    out = capsys.readouterr().out
    assert f"{len(inside)} invitation(s) ajoutée(s) à l'envoi" in out
    assert f"{40 - len(inside)} contact(s) hors des académies pilotes : non invité(s)" in out
    assert received(sink) == Counter({c.contact_email: 1 for c in inside})

    message = sink.to(inside[0].contact_email)[0]
    assert message["Subject"] == f"{inside[0].company_name} : accueillir des élèves de lycée professionnel"
    assert message["To"] == f"{inside[0].contact_name} <{inside[0].contact_email}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith(f"<{BASE}/desinscription/")
    with Session(engine) as session:
        row = session.execute(select(CampaignInvitation).where(
            CampaignInvitation.contact_id == inside[0].id)).scalar_one()
    assert message["Message-ID"] == row.message_id and row.status == "sent" and row.sent_at is not None
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert f"Bonjour {inside[0].contact_name}," in text and f"{BASE}/invitation/" in text
    assert "notre partenaire Les Entreprises s'Engagent" in text and "supprimées 6 mois après" in text
    assert 'href="http://intake.test/invitation/' in html and "Ne plus recevoir d'invitation" in html

    # Again: nothing new to send. Then every académie: the others, once each.
    assert send(engine, settings, "pilote") == 0
    assert sum(received(sink).values()) == len(inside)
    assert send(engine, settings, "pilote", all_academies=True) == 0
    assert received(sink) == Counter({c.contact_email: 1 for c in contacts(engine)})
    assert invitation_states(engine) == {"sent": 40}


def test_the_pilot_list_is_read_loosely(monkeypatch):
    monkeypatch.setenv("MLP_PILOT_ACADEMIES", "Académie de LYON, créteil")
    pilot = pilot_academies(object())  # settings without the pilot's own field: the environment
    assert pilot == {"lyon", "creteil"} and in_pilot("Lyon", pilot) and in_pilot("Créteil", pilot)
    assert not in_pilot("Grenoble", pilot) and not in_pilot(None, pilot)
    assert pilot_academies(SimpleNamespace(pilot_academies=["Aix-Marseille"])) == {"aix marseille"}
    assert pilot_academies(SimpleNamespace(pilot_academies=[])) == frozenset()
    assert in_pilot("Grenoble", frozenset())  # empty: everywhere


def test_a_crash_after_smtp_accepted_is_uncertain_and_never_sent_again(engine, sink, monkeypatch):
    group = companies(6)
    import_text(engine, csv_text([row_of(c) for c in group]), "fenetre")
    prepare_all(engine, "fenetre")

    first = mailer(engine, "fenetre", sink)
    recorded = first._record_sent
    calls = []

    def crash_on_third(row_id):
        calls.append(row_id)
        if len(calls) == 3:  # the server has accepted the third invitation; the process dies now
            raise SystemExit("kill -9")
        recorded(row_id)

    monkeypatch.setattr(first, "_record_sent", crash_on_third)
    with pytest.raises(SystemExit):
        asyncio.run(first.run())
    assert len(sink.snapshot()) == 3 and invitation_states(engine) == {"sent": 2, "sending": 1, "pending": 3}

    # Restarted within the lease: the row is someone's still; after it, uncertain, and not sent again.
    early = asyncio.run(mailer(engine, "fenetre", sink).run())
    assert early.sent == 3 and early.total("sending") == 1
    later = asyncio.run(mailer(engine, "fenetre", sink, clock=lambda: utcnow() + timedelta(seconds=121)).run())
    assert later.recovered_uncertain == 1 and later.sent == 0
    assert invitation_states(engine) == {"sent": 5, "uncertain": 1}
    assert received(sink) == Counter({c.email: 1 for c in group})  # exactly one each

    # The operator checked the relay's log and decides to send it again: then (and only then) it goes.
    again = asyncio.run(mailer(engine, "fenetre", sink).run(retry_uncertain=True))
    assert again.sent == 1 and invitation_states(engine) == {"sent": 6}


def test_a_connection_lost_refused_or_unsubscribed_recipient(engine, sink):
    group = companies(5)
    import_text(engine, csv_text([row_of(c) for c in group]), "incidents")
    prepare_all(engine, "incidents")
    sink.drop.add(group[1].email)  # the connection drops after the content, before the server's answer
    sink.refuse.add(group[2].email)  # 550 at RCPT: dead at once
    with Session(engine) as session:  # unsubscribed after the invitation was prepared: cancelled, and erased
        session.add(Unsubscribed(address_hash=TOKENS.hash(group[3].email)))
        session.commit()
    report = asyncio.run(mailer(engine, "incidents", sink).run())
    assert (report.sent, report.cancelled) == (2, 1)
    assert invitation_states(engine) == {"sent": 2, "uncertain": 1, "dead": 1, "cancelled": 1}
    assert received(sink) == Counter({group[0].email: 1, group[4].email: 1})
    assert [c.erasure_reason for c in contacts(engine)] == [None, None, None, "unsubscribed", None]
    # The dropped one never arrived: the operator sends it again.
    asyncio.run(mailer(engine, "incidents", sink).run(retry_uncertain=True))
    assert received(sink)[group[1].email] == 1


def test_an_smtp_server_down_loses_nothing(engine, sink):
    group = companies(3)
    import_text(engine, csv_text([row_of(c) for c in group]), "panne")
    prepare_all(engine, "panne")
    sink.stop()
    naps: list[float] = []

    async def nap(seconds: float) -> None:
        naps.append(seconds)

    report = asyncio.run(mailer(engine, "panne", sink, sleep=nap).run())
    assert report.smtp_down and report.sent == 0 and len(naps) == 4
    assert invitation_states(engine) == {"pending": 3}  # nothing leased, nothing lost
    sink.start()
    assert asyncio.run(mailer(engine, "panne", sink).run()).sent == 3
    assert received(sink) == Counter({c.email: 1 for c in group})


def test_two_senders_share_a_campaign_without_sending_twice(engine, sink):
    group = companies(30)
    import_text(engine, csv_text([row_of(c) for c in group]), "deux")
    prepare_all(engine, "deux")

    async def both():
        return await asyncio.gather(mailer(engine, "deux", sink, owner="a").run(),
                                    mailer(engine, "deux", sink, owner="b").run())

    a, b = asyncio.run(both())
    assert a.sent + b.sent == 30
    assert received(sink) == Counter({c.email: 1 for c in group})


def test_sending_is_throttled(sqlite_engine, sink):
    group = companies(4)
    import_text(sqlite_engine, csv_text([row_of(c) for c in group]), "lent")
    settings = settings_for(sqlite_engine, sink)
    started = time.monotonic()
    assert send(sqlite_engine, settings, "lent", rate=parse_rate("1200/min"), all_academies=True) == 0
    assert time.monotonic() - started >= 3 * 0.05  # four sends, at least 50 ms apart
    assert parse_rate("2/s") == 120 and parse_rate("600/h") == 10 and parse_rate("30") == 30
    with pytest.raises(argparse.ArgumentTypeError):
        parse_rate("vite")


def test_a_campaign_killed_with_sigkill_and_resumed_sends_each_invitation_once(sqlite_engine, sink, tmp_path):
    """A real `monlyceepro campaign send` process, killed -9 in the middle of the campaign, then run again."""
    group = companies(30)
    import_text(sqlite_engine, csv_text([row_of(c) for c in group]), "reprise")
    env = {**os.environ, "MLP_ENV": "test", "MLP_DATABASE_URL": str(sqlite_engine.url), "MLP_VAR_DIR": str(tmp_path),
           "MLP_SMTP_URL": sink.url, "MLP_SECRET_KEY": SECRET, "MLP_PUBLIC_BASE_URL": BASE,
           "MLP_CAMPAIGN_LEASE_S": "2", "MLP_LOG_LEVEL": "WARNING", "MLP_PILOT_ACADEMIES": ""}
    command = [sys.executable, "-m", "services.cli", "campaign", "send", "reprise", "--rate", "600/min"]
    def between_two_sends() -> bool:
        states = invitation_states(sqlite_engine)
        return len(sink.messages) >= 8 and states.get("sent") == len(sink.messages) and not states.get("sending")

    returncode = sigkill_when(command, env, between_two_sends,
                              lambda: f"8 invitations sent (sink: {len(sink.messages)})")
    assert returncode == -signal.SIGKILL
    killed_at = len(sink.snapshot())
    assert 8 <= killed_at < 30 and max(received(sink).values()) == 1

    time.sleep(2.1)  # a row caught in flight by the kill is someone's until its lease (2 s) ends
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    states = invitation_states(sqlite_engine)
    if states.get("uncertain"):  # the kill landed between SMTP and the database: the operator checks the sink
        with Session(sqlite_engine) as session:
            uncertain = session.execute(select(CampaignInvitation.to_email).where(
                CampaignInvitation.status == "uncertain")).scalars().all()
        if not any(received(sink)[address] for address in uncertain):
            retried = subprocess.run(command + ["--retry-uncertain"], cwd=ROOT, env=env, capture_output=True,
                                     text=True, timeout=120)
            assert retried.returncode == 0, retried.stderr
    else:
        assert states == {"sent": 30}
        assert f"Cet envoi : {30 - killed_at} envoyée(s)" in done.stdout
    assert received(sink) == Counter({c.email: 1 for c in group})  # every company, exactly one invitation
