"""The naming flow's SQL (nominations, the naming mailing's rows, who to invite and remind) and its leased
mailer, on SQLite and PostgreSQL through the catalog's migrations (revision 0004)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import Session

from services.catalog import naming_repository as naming_repo
from services.catalog import repository as repo
from services.catalog.migrations import SCHEMA
from services.catalog.models import CONFIRM_MAILING, INVITE_MAILING, Lycee
from services.catalog.service.rbe_mailings import plan_invitations, plan_reminders
from services.catalog.service.rbe_naming import NamedPerson, confirm, nominate
from services.catalog.service.readmodel import load_directory
from services.catalog.tasks import NAMING_RETENTION_DAYS, purge_rbe_naming, rbe_mailer
from shared.platform.clock import utcnow
from shared.platform.db import make_engine, unit_of_work
from shared.platform.migrations import upgrade
from tests.catalog.support import catalog_settings

LYCEES = [
    ("0690001A", "Lycée Rabelais", "Lyon", "ce.0690001a@ac-lyon.fr"),
    ("0690002B", "Lycée Moulin", "Lyon", "ce.0690002b@ac-lyon.fr"),
    ("0130003C", "Lycée Marseille", "Aix-Marseille", "ce.0130003c@ac-aix-marseille.fr"),
    ("0130004D", "Lycée sans adresse", "Aix-Marseille", ""),
]


def test_naming_rows_and_mailings_on_both_databases(database_url, sink):
    engine = make_engine(database_url)
    upgrade(SCHEMA, engine)
    now = utcnow()
    with unit_of_work(engine) as session:
        for uai, name, academie, mail in LYCEES:
            session.add(Lycee(uai=uai, name=name, academie=academie, mail=mail, commune="Lyon"))
        session.flush()
        repo.ensure_generic_contacts(session, {uai: mail for uai, _, _, mail in LYCEES if mail})
    with unit_of_work(engine) as session:
        assert plan_invitations(session, now, "mlp.test") == 3
        assert plan_invitations(session, now, "mlp.test") == 0
        assert plan_invitations(session, now, "mlp.test", academie="lyon", again=True) == 2
        assert naming_repo.invitation_rounds(session) == {"0690001A": 2, "0690002B": 2, "0130003C": 1}
    settings = catalog_settings(database_url, smtp_url=sink.url)
    report = asyncio.run(rbe_mailer(engine, settings, INVITE_MAILING, clock=lambda: now).run())
    assert report.sent == 5 and len(sink.to("ce.0690001a@ac-lyon.fr")) == 2

    with unit_of_work(engine) as session:
        (row,) = nominate(
            session,
            "0690001A",
            [NamedPerson("Marie Dupont", "marie.dupont@ac-lyon.fr", "DDFPT")],
            source="lycee",
            now=now,
            mail_domain="mlp.test",
        )
    with unit_of_work(engine) as session:
        assert [n.email for n in naming_repo.nominations_of(session, "0690001A", ("pending",))] == [
            "marie.dupont@ac-lyon.fr"
        ]
        result = confirm(session, row.id, now=now, correlation_id="t", mail_domain="mlp.test")
        assert result.outcome == "confirmed" and result.routing
    with Session(engine) as session:
        assert naming_repo.uais_with_named_rbe(session) == {"0690001A"}
        assert [lyc.uai for lyc in naming_repo.lycees_to_invite(session, None)] == ["0130003C", "0690002B"]
        assert naming_repo.nomination_counts(session) == {"confirmed": 1}
    with engine.connect() as conn:
        assert naming_repo.has_named_rbe(conn, "0690001A") and not naming_repo.has_named_rbe(conn, "0690002B")
        assert naming_repo.lycee_label(conn, "0690002B").name == "Lycée Moulin"
        assert naming_repo.nomination_row(conn, row.id).status == "confirmed"
    confirmations = asyncio.run(rbe_mailer(engine, settings, CONFIRM_MAILING, clock=lambda: now).run())
    assert (
        confirmations.cancelled == 1 and confirmations.sent == 0
    )  # confirmed before its link left: not sent

    with unit_of_work(engine) as session:
        later = now + timedelta(days=8)
        assert plan_reminders(session, later, "mlp.test") == {"relance-7": 2, "relance-21": 0}
        assert plan_reminders(session, later, "mlp.test", academie="Aix-Marseille") == {
            "relance-7": 0,
            "relance-21": 0,
        }
    with Session(engine) as session:
        assert ("relance-7", "pending", 2) in naming_repo.invite_status(session, None)
        assert naming_repo.invite_status(session, "aix-marseille") == [
            ("invitation", "sent", 1),
            ("relance-7", "pending", 1),
        ]
    # Retention: past the limit, withdrawn names go and settled emails lose their address.
    for person in (
        NamedPerson("Lou Rossi", "lou.rossi@ac-lyon.fr", ""),
        NamedPerson("Sam Roy", "sam.roy@ac-lyon.fr", ""),
    ):
        with unit_of_work(engine) as session:  # the second naming withdraws Lou's
            nominate(session, "0690002B", [person], source="lycee", now=now, mail_domain="mlp.test")
    assert purge_rbe_naming(engine, now) == (0, 0)
    deleted, erased = purge_rbe_naming(engine, now + timedelta(days=NAMING_RETENTION_DAYS + 1))
    assert deleted == 1 and erased == 6  # 5 invitations sent + 1 confirmation cancelled
    with Session(engine) as session:
        assert naming_repo.nomination_counts(session) == {"confirmed": 1, "pending": 1}
    engine.dispose()


def _additional(engine, uai: str) -> list[tuple[str, str]]:
    with Session(engine) as session:
        lycees = {row.uai: row for row in repo.all_rows(session, Lycee)}
        contacts, _, _ = load_directory(session, lycees, None)
    return contacts[uai].additional


def test_the_additional_confirmed_rbes_of_a_lycee_on_both_databases(database_url, sink):
    """Every RBE confirmed in the contact's naming is an additional RBE of the lycée (the snapshot copies them on
    its new requests); a naming replaced by a later one, or by an académie's list imported as confirmed, is not."""
    engine = make_engine(database_url)
    upgrade(SCHEMA, engine)
    now = utcnow()
    uai = "0690002B"
    with unit_of_work(engine) as session:
        for code, name, academie, mail in LYCEES:
            session.add(Lycee(uai=code, name=name, academie=academie, mail=mail, commune="Lyon"))
        session.flush()
        repo.ensure_generic_contacts(session, {code: mail for code, _, _, mail in LYCEES if mail})

    def name_and_confirm(*people: NamedPerson, confirming: int = 0) -> None:
        with unit_of_work(engine) as session:
            rows = nominate(session, uai, list(people), source="lycee", now=now, mail_domain="mlp.test")
            ids = [row.id for row in rows]
        for nomination_id in ids[:confirming]:
            with unit_of_work(engine) as session:
                assert confirm(session, nomination_id, now=now, correlation_id="t", mail_domain="mlp.test").outcome \
                    == "confirmed"

    camille = NamedPerson("Camille Martin", "camille.martin@ac-lyon.fr", "DDFPT")
    lou = NamedPerson("Lou Rossi", "lou.rossi@ac-lyon.fr", "Professeure")
    name_and_confirm(camille, lou, confirming=1)
    assert _additional(engine, uai) == []  # Lou has not confirmed
    with unit_of_work(engine) as session:
        (pending,) = naming_repo.nominations_of(session, uai, ("pending",))
        confirm(session, pending.id, now=now, correlation_id="t", mail_domain="mlp.test")
    assert _additional(engine, uai) == [("lou.rossi@ac-lyon.fr", "Lou Rossi")]
    assert _additional(engine, "0690001A") == []  # a generic address has no colleagues

    # A new naming confirmed: Camille and Lou are replaced, Sam is the contact and Alex the additional RBE.
    name_and_confirm(
        NamedPerson("Sam Roy", "sam.roy@ac-lyon.fr", ""), NamedPerson("Alex Morel", "alex.morel@ac-lyon.fr", "")
    )
    assert _additional(engine, uai) == [("lou.rossi@ac-lyon.fr", "Lou Rossi")]  # none confirmed yet
    with unit_of_work(engine) as session:
        for row in naming_repo.nominations_of(session, uai, ("pending",)):
            confirm(session, row.id, now=now, correlation_id="t", mail_domain="mlp.test")
    assert _additional(engine, uai) == [("alex.morel@ac-lyon.fr", "Alex Morel")]

    # The académie's list imported as already verified names someone else: nobody of the naming is copied.
    with unit_of_work(engine) as session:
        repo.upsert_rbe(session, "dominique.leroy@ac-lyon.fr", "Dominique Leroy", None)
        repo.assign_coverage(session, "dominique.leroy@ac-lyon.fr", [uai])
    assert _additional(engine, uai) == []
    engine.dispose()
