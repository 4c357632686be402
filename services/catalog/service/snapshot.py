"""Builds ``shared.contracts.catalog_snapshot.CatalogSnapshot`` — the matcher's view of the catalog."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine
from sqlmodel import Session

from services.catalog.service.readmodel import ReadModel, load_read_model
from shared.contracts.catalog_snapshot import (
    CatalogSnapshot,
    SnapshotEvent,
    SnapshotFormation,
    SnapshotJobTitle,
    SnapshotLycee,
    SnapshotOffer,
    SnapshotPfmpPeriod,
    SnapshotRbe,
)
from shared.contracts.events import NEED_TYPES
from shared.platform.settings import get_settings
from shared.reference.jobs.vocabulary import JobVocabulary


def snapshot_from_read_model(model: ReadModel) -> CatalogSnapshot:
    lycees: list[SnapshotLycee] = []
    today = date.today()
    for uai, lyc in sorted(model.lycees.items()):
        offers = [
            SnapshotOffer(cfd=o.cfd, tracks=sorted(o.tracks), last_seen_year=o.last_seen_year,  # type: ignore[arg-type]
                          derived_from=o.derived_from)
            for o in sorted(model.offers.get(uai, {}).values(), key=lambda o: o.cfd)
        ]
        settings = model.settings.get(uai)
        contact = model.contacts.get(uai)
        services = [s for s in (settings.services.split(";") if settings and settings.services else []) if s in NEED_TYPES]
        lycees.append(SnapshotLycee(
            uai=uai, name=lyc.name, type_court=lyc.type_court, secteur="prive" if lyc.secteur == "prive" else "public",
            private_hors_contrat=lyc.private_hors_contrat, bts_only=lyc.bts_only, parent_uai=lyc.parent_uai,
            formations_uai=lyc.formations_uai, commune=lyc.commune, commune_insee=lyc.commune_insee or None,
            postal_code=lyc.postal_code or None, departement=lyc.departement_code, academie=lyc.academie,
            academie_code=lyc.academie_code or None, region=lyc.region or None, territory=lyc.territory,
            latitude=lyc.latitude, longitude=lyc.longitude, offers=offers,
            apprenticeship_capable=lyc.apprentissage or any("apprentissage" in o.tracks for o in offers),
            services=services, monthly_capacity=settings.monthly_capacity if settings else None,
            rbe_id=contact.email if contact else "", rbe_email=contact.email if contact else "",
            rbe_name=contact.name if contact else None, is_generic_contact=contact.is_generic if contact else True,
            deputy_email=contact.deputy_email if contact else None,
            absent_from=contact.absent_from if contact else None, absent_until=contact.absent_until if contact else None,
            additional_rbes=[SnapshotRbe(email=email, name=name) for email, name in contact.additional] if contact else [],
            **_words(model, uai, today),
        ))
    formations = [
        SnapshotFormation(
            cfd=f.cfd, label=f.label, diploma=f.diploma, level=f.level, rome_codes=model.formation_romes.get(f.cfd, []),
            successor_cfds=[c for c in f.successor_cfds.split(";") if c], closed=f.closed,
        )
        for f in sorted(model.formations.values(), key=lambda f: f.cfd)
    ]
    titles = [SnapshotJobTitle(label=t.label, rome=t.rome, source=t.source) for t in model.job_titles]
    titles += [SnapshotJobTitle(label=j.label, rome=j.rome, source="rome") for j in model.jobs.values()]
    return CatalogSnapshot(
        generated_at=datetime.now(UTC), version=model.version, lycees=lycees, formations=formations,
        job_titles=titles, rome_labels={code: j.label for code, j in sorted(model.jobs.items())},
        naf_division_romes=model.naf_division_romes, academie_fallbacks=model.academie_fallbacks,
        vocabulary=JobVocabulary.model_validate(model.vocabulary, from_attributes=True),
    )


def _words(model: ReadModel, uai: str, today: date) -> dict:
    extras = model.extras.get(uai)
    if extras is None:
        return {}
    return {
        "pfmp_periods": [SnapshotPfmpPeriod(classe=p.classe, cfd=p.cfd, dates=p.dates, ranges=p.ranges)
                         for p in extras.pfmp],
        "events": [SnapshotEvent(kind=e.kind, title=e.title, starts_on=e.starts_on, ends_on=e.ends_on)
                   for e in extras.upcoming(today)],
    }


def build_snapshot(session_or_engine: Session | Engine) -> CatalogSnapshot:
    fallback = get_settings().fallback_email
    if isinstance(session_or_engine, Session):
        return snapshot_from_read_model(load_read_model(session_or_engine, fallback))
    with Session(session_or_engine) as session:
        return snapshot_from_read_model(load_read_model(session, fallback))
