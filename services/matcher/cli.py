"""``monlyceepro coverage``: per académie, jobs without a lycée within reach and overlapping places."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from pathlib import Path

from services.matcher.catalog_client import fetch_network_coverage, fetch_snapshot, load_cached
from services.matcher.config import MatcherSettings
from services.matcher.service.coverage import coverage as compute_coverage
from services.matcher.service.readmodel import CatalogReadModel
from shared.contracts.catalog_snapshot import CatalogSnapshot
from shared.reference.geo import load_communes


def _snapshot(args: argparse.Namespace, settings: MatcherSettings) -> CatalogSnapshot | None:
    if args.snapshot:
        return load_cached(Path(args.snapshot))
    try:
        snapshot, _ = asyncio.run(fetch_snapshot(args.catalog_url or settings.catalog_url, http_timeout_s=60))
        return snapshot
    except Exception as exc:
        print(f"Catalogue injoignable ({type(exc).__name__}) : utilisation de l'instantané en cache.", file=sys.stderr)
        return load_cached(settings.snapshot_cache_path)


def _network(args: argparse.Namespace, settings: MatcherSettings) -> dict | None:
    """The catalog's RBE and profile coverage (by académie), or None when it is not asked for or unreachable."""
    if args.snapshot and not args.catalog_url:
        return None
    try:
        return asyncio.run(fetch_network_coverage(args.catalog_url or settings.catalog_url))
    except Exception as exc:
        print(f"Couverture des RBE indisponible : catalogue injoignable ({type(exc).__name__}).", file=sys.stderr)
        return None


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({round(100 * part / whole) if whole else 0} %)"


def _network_line(line: dict) -> str:
    return (f"lycées avec un RBE confirmé : {_share(line['avec_rbe'], line['lycees'])} ; "
            f"fiches complétées : {_share(line['profil_complete'], line['lycees'])}")


def coverage(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="monlyceepro coverage", description=(
        "Par académie : les métiers sans lycée à moins de --rayon km, et les lieux où plusieurs lycées "
        "se recouvrent pour les mêmes métiers (là où la déduplication compte)."))
    parser.add_argument("--academie", help="une seule académie (ex. Lyon)")
    parser.add_argument("--rayon", type=float, default=60.0, help="distance d'accès en km (défaut 60)")
    parser.add_argument("--recouvrement", type=float, default=30.0, help="rayon du recouvrement en km (défaut 30)")
    parser.add_argument("--limite", type=int, default=10, help="lignes par académie et par section (défaut 10)")
    parser.add_argument("--json", action="store_true", help="sortie JSON complète")
    parser.add_argument("--snapshot", help="fichier d'instantané du catalogue (sinon l'API du catalogue)")
    parser.add_argument("--catalog-url", help="URL du service catalogue")
    args = parser.parse_args(argv)
    settings = MatcherSettings()
    snapshot = _snapshot(args, settings)
    if snapshot is None:
        print("Aucun instantané du catalogue : démarrez le catalogue ou passez --snapshot FICHIER.", file=sys.stderr)
        return 1
    report = compute_coverage(CatalogReadModel(snapshot), load_communes(settings.data_dir), reach_km=args.rayon,
                      overlap_km=args.recouvrement, k=settings.max_lycees)
    if args.academie:
        report = [r for r in report if r.academie.lower() == args.academie.lower()]
        if not report:
            print(f"Académie inconnue : {args.academie}", file=sys.stderr)
            return 2
    network = _network(args, settings)
    by_academie = {a["academie"].lower(): a for a in network["academies"]} if network else {}
    departements: dict[str, list[dict]] = {}
    for d in network["departements"] if network else []:
        departements.setdefault(d["academie"].lower(), []).append(d)
    if args.json:
        print(json.dumps([{**asdict(r), "reseau": by_academie.get(r.academie.lower()),
                           "reseau_departements": departements.get(r.academie.lower(), [])} for r in report],
                         ensure_ascii=False, indent=1))
        return 0
    if network and not args.academie:
        print(f"Réseau (France) : {_network_line(network['total'])}")
    for r in report:
        print(f"\n## Académie de {r.academie} ({r.places} zones)")
        if r.academie.lower() in by_academie:
            print(f"Réseau : {_network_line(by_academie[r.academie.lower()])}")
            for d in departements.get(r.academie.lower(), []):
                print(f"  - département {d['departement']} : {_network_line(d)}")
        print(f"Métiers sans lycée à moins de {args.rayon:.0f} km d'au moins une zone : {len(r.gaps)}")
        for rome, label, missing, national, examples in r.gaps[: args.limite]:
            print(f"  - {rome} {label} : {missing}/{r.places} zones, enseigné dans {national} lycées en France "
                  f"(ex. {', '.join(examples)})")
        print(f"Zones où plus de {settings.max_lycees} lycées se recouvrent (à {args.recouvrement:.0f} km) : "
              f"{len(r.overlaps)}")
        for place, jobs, most, example in r.overlaps[: args.limite]:
            print(f"  - {place} : {jobs} métiers, jusqu'à {most} lycées (ex. {example})")
    return 0


# The `monlyceepro` sub-commands this service brings (composed by services/cli.py).
COMMANDS = {"coverage": (coverage, "rapport de couverture par académie")}
