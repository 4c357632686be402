"""The rich profile's repository on SQLite and PostgreSQL, through the catalog's migrations."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import Session

from services.catalog import repository as repo
from services.catalog.migrations import SCHEMA
from services.catalog.models import LyceeImage, PartnerCompany, PfmpPeriod, ProfileEvent
from services.catalog.service.profile import load_extras
from shared.platform.db import make_engine
from shared.platform.migrations import upgrade


def test_profile_rows_round_trip(database_url):
    engine = make_engine(database_url)
    upgrade(SCHEMA, engine)
    today = date.today()
    with Session(engine) as session:
        repo.add_row(session, PfmpPeriod(uai="0693504J", classe="1re", dates="mars", ranges="03-01/03-31"))
        repo.add_row(session, ProfileEvent(uai="0693504J", kind="forum", title="Forum", starts_on=today))
        repo.add_row(session, ProfileEvent(uai="0693504J", kind="jury", title="Passé", starts_on=date(2020, 1, 1)))
        repo.add_row(session, PartnerCompany(uai="0693504J", name="Avec accord", consent_at=datetime.now(UTC)))
        repo.add_row(session, PartnerCompany(uai="0693504J", name="Sans accord"))
        repo.save_image(session, LyceeImage(uai="0693504J", kind="logo", mime="image/png", width=10, height=5,
                                            digest="abc", content=b"\x89PNG"))
        session.commit()
    with Session(engine) as session:
        extras = load_extras(session)["0693504J"]
        assert [p.ranges for p in extras.pfmp] == ["03-01/03-31"] and extras.partners == ["Avec accord"]
        assert [e.title for e in extras.upcoming(today)] == ["Forum"] and extras.image == ("logo", "abc", 10, 5)
        event_id = repo.events_of(session, "0693504J")[0].id
        assert not repo.delete_owned(session, ProfileEvent, "0010001W", event_id)  # not that lycée's
        assert repo.delete_owned(session, ProfileEvent, "0693504J", event_id) and repo.delete_image(session, "0693504J")
        session.commit()
        assert repo.get_image(session, "0693504J") is None
    engine.dispose()
