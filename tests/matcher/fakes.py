"""A small hand-made catalog snapshot for unit tests (coordinates are real places)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from shared.contracts.catalog_snapshot import (
    CatalogSnapshot,
    SnapshotFormation,
    SnapshotJobTitle,
    SnapshotLycee,
    SnapshotOffer,
)
from shared.contracts.events import Contact, Location, RequestSubmitted

CAP_BOULANGER, BP_BOULANGER, OLD_CAP_BOULANGER = "50022137", "45022108", "50022199"
BAC_ELEC, CAP_CUISINE = "40025510", "50022135"

LYON = (45.7485, 4.8467)


def lycee(uai: str, name: str, lat: float, lon: float, cfds: list[str], *, dept: str = "69",
          academie: str = "Lyon", territory: str = "metropole", tracks: tuple[str, ...] = ("scolaire",),
          **extra) -> SnapshotLycee:
    email = extra.pop("rbe_email", f"ce.{uai.lower()}@ac-test.fr")
    return SnapshotLycee(
        uai=uai, name=name, type_court=extra.pop("type_court", "LP"), secteur="public", commune=extra.pop("commune", "X"),
        departement=dept, academie=academie, territory=territory, latitude=lat, longitude=lon,
        offers=[SnapshotOffer(cfd=c, tracks=list(tracks)) for c in cfds], rbe_id=email.lower(), rbe_email=email,
        **extra,
    )


def make_snapshot(extra_lycees: list[SnapshotLycee] | None = None, **overrides) -> CatalogSnapshot:
    lycees = [
        lycee("0690001A", "Lycée des Boulangers de Vénissieux", 45.6975, 4.8867, [CAP_BOULANGER]),   # ~6.5 km
        lycee("0690002B", "Lycée Croissant de Villeurbanne", 45.7719, 4.8902, [BP_BOULANGER]),        # ~4.2 km
        lycee("0690003C", "Lycée ancien CAP de Vaulx", 45.7786, 4.9225, [OLD_CAP_BOULANGER]),        # ~6.8 km, old CFD
        lycee("0690004D", "Lycée polyvalent Rabelais", 45.8083, 4.7556, [CAP_BOULANGER], type_court="LPO"),
        lycee("0690005E", "SEP du lycée Rabelais", 45.8083, 4.7556, [CAP_BOULANGER], type_court="SEP",
              parent_uai="0690004D"),
        lycee("0690006F", "Lycée de l'électricité de Lyon", 45.7600, 4.8400, [BAC_ELEC]),
        lycee("0420001G", "Lycée des Bruyères", 45.4775, 4.5153, [CAP_BOULANGER], dept="42"),         # ~40 km
        lycee("9740001H", "Lycée hôtelier de Saint-Paul", -21.0096, 55.2707, [CAP_CUISINE], dept="974",
              academie="La Réunion", territory="974"),
        lycee("9740002J", "Lycée boulanger de Saint-Pierre", -21.3393, 55.4781, [CAP_BOULANGER], dept="974",
              academie="La Réunion", territory="974"),
        lycee("0690007K", "Lycée apprentissage Gerland", 45.7300, 4.8300, [CAP_BOULANGER], tracks=("apprentissage",)),
        lycee("0690008L", "Lycée des visites", 45.7500, 4.8500, [BAC_ELEC], services=["visite"]),
    ]
    formations = [
        SnapshotFormation(cfd=CAP_BOULANGER, label="Boulanger", diploma="CAP", rome_codes=["D1102"]),
        SnapshotFormation(cfd=BP_BOULANGER, label="Boulanger", diploma="BP", rome_codes=["D1102"]),
        SnapshotFormation(cfd=OLD_CAP_BOULANGER, label="Boulanger (ancien)", diploma="CAP", rome_codes=[],
                          successor_cfds=[CAP_BOULANGER], closed=True),
        SnapshotFormation(cfd=BAC_ELEC, label="Métiers de l'électricité", diploma="BAC PRO",
                          rome_codes=["F1602", "I1309"]),
        SnapshotFormation(cfd=CAP_CUISINE, label="Cuisine", diploma="CAP", rome_codes=["G1602"]),
    ]
    data = dict(
        generated_at=datetime.now(UTC), version="fake-1", lycees=lycees + (extra_lycees or []), formations=formations,
        job_titles=[
            SnapshotJobTitle(label="Boulanger / Boulangère", rome="D1102", source="appellation"),
            SnapshotJobTitle(label="Électricien / Électricienne du bâtiment", rome="F1602", source="appellation"),
            SnapshotJobTitle(label="Commis / Commise de cuisine", rome="G1602", source="appellation"),
        ],
        rome_labels={"D1102": "Boulanger / Boulangère", "F1602": "Électricien / Électricienne du bâtiment",
                     "I1309": "Électricien / Électricienne de maintenance", "G1602": "Commis / Commise de cuisine"},
        naf_division_romes={"10": ["D1102", "G1602"], "43": ["F1602"]},
        academie_fallbacks={"Lyon": "entreprises@ac-lyon.test"},
    )
    data.update(overrides)
    return CatalogSnapshot(**data)


def submitted(postal_code: str = "69007", needs: list[str] | None = None, jobs: list[str] | None = None, *,
              siret: str | None = "12345678200010", email: str = "patron@boulangerie.test", naf: str | None = None,
              submitted_at: datetime | None = None, **extra) -> RequestSubmitted:
    return RequestSubmitted(
        correlation_id="test", request_id=uuid.uuid4(), submitted_at=submitted_at or datetime.now(UTC),
        needs=needs or ["pfmp"], jobs=["boulanger"] if jobs is None else jobs, naf=naf, siret=siret,
        location=Location(postal_code=postal_code), company_name="Boulangerie Test",
        contact=Contact(name="Camille Martin", email=email), message="Nous cherchons un stagiaire.", **extra,
    )


TODAY = date(2026, 11, 26)
