"""The real catalog as a CatalogSnapshot, for the matcher's real-data tests and bench:
``build_real_catalog_snapshot`` goes through the catalog's own loader and snapshot builder.

``build_real_snapshot``, built straight from data/*.csv, is used only when the catalog's own builder
(``services.catalog.service.snapshot``) is not available: kept minimal (generic school contact as RBE, no
services, no capacity), but the data are the real ones.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from shared.contracts.catalog_snapshot import (
    CatalogSnapshot,
    SnapshotFormation,
    SnapshotJobTitle,
    SnapshotLycee,
    SnapshotOffer,
)
from shared.platform.db import make_engine
from shared.platform.settings import PROJECT_ROOT
from shared.reference.geo import territory_of

DATA = PROJECT_ROOT / "data"
VOCATIONAL = {"LP", "SEP", "LPO", "LEGTPA", "CETAD", "EPS"}


def _rows(name: str, data: Path = DATA) -> list[dict[str, str]]:
    with open(data / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _float(v: str) -> float | None:
    return float(v) if v else None


def build_real_snapshot(data: Path = DATA) -> CatalogSnapshot:
    offers: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    last_seen: dict[tuple[str, str], int] = {}
    for r in _rows("lycee_formations.csv", data):
        offers[r["uai"]][r["cfd"]].add(r["voie"])
        if r["derniere_annee_vue"]:
            last_seen[(r["uai"], r["cfd"])] = int(r["derniere_annee_vue"])
    lycees = []
    for r in _rows("lycees.csv", data):
        carrier = r["uai_porteur_formations"]
        if not carrier or (r["type_court"] not in VOCATIONAL and r["voie_professionnelle"] != "1" and not offers.get(r["uai"])):
            continue
        own = offers.get(carrier, {})
        bts_only = bool(own) and all(cfd.startswith("32") for cfd in own)
        email = r["mail"] or f"ce.{r['uai'].lower()}@education.invalid"
        lycees.append(SnapshotLycee(
            uai=r["uai"], name=r["nom"], type_court=r["type_court"], secteur=r["secteur"] or "public",
            private_hors_contrat="HORS CONTRAT" in r["contrat_prive"], bts_only=bts_only,
            parent_uai=r["uai_etablissement_mere"] or None, formations_uai=carrier, commune=r["commune"],
            commune_insee=r["code_commune_insee"] or None, postal_code=r["code_postal"] or None,
            departement=r["code_departement"], academie=r["academie"], academie_code=r["code_academie"] or None,
            region=r["region"] or None, territory=territory_of(r["code_departement"]),
            latitude=_float(r["latitude"]), longitude=_float(r["longitude"]),
            offers=[SnapshotOffer(cfd=cfd, tracks=sorted(tracks), last_seen_year=last_seen.get((carrier, cfd)))
                    for cfd, tracks in sorted(own.items())],
            apprenticeship_capable=r["apprentissage"] == "1", rbe_id=email.lower(), rbe_email=email,
            is_generic_contact=True,
        ))
    romes_of: dict[str, list[str]] = defaultdict(list)
    for r in _rows("formation_rome.csv", data):
        romes_of[r["cfd"]].append(r["code_rome"])
    formations = [
        SnapshotFormation(
            cfd=r["cfd"], label=r["intitule_specialite"] or r["libelle_long"].split("(")[0].strip().capitalize(),
            diploma=r["diplome"], level=int(r["niveau_europeen"]) if r["niveau_europeen"].isdigit() else None,
            rome_codes=romes_of.get(r["cfd"], []),
            successor_cfds=[c for c in r["remplace_par_cfd"].replace(",", ";").split(";") if c],
            closed=bool(r["date_fermeture"]) and r["date_fermeture"][-4:] < "2025",
        )
        for r in _rows("formations.csv", data)
    ]
    rome_labels = {r["code_rome"]: r["libelle_rome"] for r in _rows("rome.csv", data)}
    titles = [SnapshotJobTitle(label=r["libelle_appellation"], rome=r["code_rome"], source="appellation")
              for r in _rows("rome_appellations.csv", data)]
    titles += [SnapshotJobTitle(label=r["metier_onisep"], rome=r["code_rome"], source="onisep")
               for r in _rows("rome_metiers_onisep.csv", data)]
    naf: dict[str, list[str]] = defaultdict(list)
    for r in _rows("naf_division_rome.csv", data):
        naf[r["code_division_naf"]].append(r["code_rome"])
    return CatalogSnapshot(
        generated_at=datetime.now(UTC), version="data-csv", lycees=lycees, formations=formations,
        job_titles=titles, rome_labels=rome_labels, naf_division_romes=dict(naf),
    )


def build_real_catalog_snapshot(tmp_dir) -> CatalogSnapshot:
    """The real open data through the catalog's own loader and snapshot builder; the CSV-only
    builder of this module is the fallback when the catalog's helpers are unavailable."""
    try:
        from services.catalog.service.snapshot import build_snapshot
        from tests.support.catalog_data import load_real_catalog
    except ImportError:  # pragma: no cover - depends on the catalog service being present
        return build_real_snapshot()
    url = f"sqlite:///{tmp_dir}/catalog.db"
    load_real_catalog(url)
    engine = make_engine(url)
    try:
        return build_snapshot(engine)
    finally:
        engine.dispose()
