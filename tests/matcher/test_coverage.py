"""`monlyceepro coverage` on the small snapshot: gaps and overlaps per académie."""

from __future__ import annotations

import json

from services.matcher.cli import coverage
from services.matcher.service import CatalogReadModel
from services.matcher.service.coverage import coverage as compute_coverage
from shared.reference.geo import load_communes
from tests.matcher.fakes import CAP_BOULANGER, lycee, make_snapshot


def test_coverage_lists_gaps_and_overlaps(tmp_path, capsys):
    extra = [lycee(f"069010{i}X", f"Lycée boulanger {i}", 45.75 + i / 100, 4.85, [CAP_BOULANGER]) for i in range(3)]
    snapshot = make_snapshot(extra)
    path = tmp_path / "snapshot.json"
    path.write_text(snapshot.model_dump_json())
    assert coverage(["--snapshot", str(path), "--academie", "Lyon", "--json"]) == 0
    (lyon,) = json.loads(capsys.readouterr().out)
    gaps = {g[0] for g in lyon["gaps"]}
    assert "G1602" in gaps  # cuisine is taught only in La Réunion: no lycée within 60 km anywhere in Lyon
    assert lyon["overlaps"] and lyon["overlaps"][0][1] >= 1  # Lyon: more than 3 bakery lycées within 30 km
    assert coverage(["--snapshot", str(path), "--academie", "Lyon"]) == 0
    text = capsys.readouterr().out
    assert "Académie de Lyon" in text and "Boulanger" in text
    assert coverage(["--snapshot", str(path), "--academie", "Atlantide"]) == 2


def test_overseas_places_are_covered_only_from_their_own_territory():
    report = {r.academie: r for r in compute_coverage(CatalogReadModel(make_snapshot()), load_communes())}
    reunion_gaps = {g[0] for g in report["La Réunion"].gaps}
    assert "F1602" in reunion_gaps  # electricity is taught in Lyon only: no coverage across the sea
    assert report["La Réunion"].places >= 1
