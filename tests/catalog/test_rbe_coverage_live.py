"""The coverage figures change when an RBE confirms: in the catalog's gauges (a real catalog process) and in
`monlyceepro coverage`, which reads the catalog's `/api/v1/couverture` over HTTP."""

from __future__ import annotations

import re
import shutil

import httpx
import pytest

from services.catalog.service.rbe_naming import NamedPerson, confirm, nominate
from services.matcher.cli import coverage
from shared.platform.clock import utcnow
from shared.platform.db import make_engine, unit_of_work
from tests.matcher.fakes import make_snapshot
from tests.support.eventually import eventually
from tests.support.live import ServiceProcess, service_env

pytestmark = pytest.mark.timeout(180)
GAUGE = re.compile(r'mlp_catalog_network_lycees_with_rbe\{academie="Lyon",departement="01"\} (\d+)')


def ain_with_rbe(url: str) -> int | None:
    found = GAUGE.search(httpx.get(url + "/metrics", timeout=10).text)
    return int(float(found[1])) if found else None  # None: the read model is not built yet


def test_a_confirmation_moves_the_gauges_and_the_coverage_report(tmp_path, redis_server, catalog_template, capsys):
    shutil.copyfile(catalog_template, tmp_path / "catalog.db")
    database_url = f"sqlite:///{tmp_path / 'catalog.db'}"
    process = ServiceProcess("catalog", service_env(tmp_path, redis_server.url, MLP_DATABASE_URL=database_url),
                             log_dir=tmp_path / "logs").start(timeout=120)
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(make_snapshot().model_dump_json())
    try:
        (before,) = eventually(lambda: (ain_with_rbe(process.url),) if ain_with_rbe(process.url) is not None else None,
                               timeout=60, what="the coverage gauges")
        assert coverage(["--snapshot", str(snapshot), "--catalog-url", process.url, "--academie", "Lyon"]) == 0
        text = capsys.readouterr().out
        line = re.search(r"département 01 : lycées avec un RBE confirmé : (\d+)/(\d+)", text)
        assert line and int(line[1]) == before and "Réseau : lycées avec un RBE confirmé" in text

        engine = make_engine(database_url)
        with unit_of_work(engine) as session:
            (row,) = nominate(session, "0010001W", [NamedPerson("Camille Martin", "camille.martin@ac-lyon.fr", "")],
                              source="lycee", now=utcnow(), mail_domain="mlp.test")
        with unit_of_work(engine) as session:
            confirm(session, row.id, now=utcnow(), correlation_id="t", mail_domain="mlp.test")
        engine.dispose()

        eventually(lambda: ain_with_rbe(process.url) == before + 1, timeout=30, what="the gauge follows")
        assert coverage(["--snapshot", str(snapshot), "--catalog-url", process.url, "--json"]) == 0
        capsys.readouterr()
        assert coverage(["--snapshot", str(snapshot), "--catalog-url", process.url, "--academie", "Lyon"]) == 0
        after = re.search(r"département 01 : lycées avec un RBE confirmé : (\d+)/(\d+)", capsys.readouterr().out)
        assert after and int(after[1]) == before + 1 and after[2] == line[2]
    finally:
        process.stop()
    # Without the catalog the report still comes, without the section (and says why).
    assert coverage(["--snapshot", str(snapshot), "--catalog-url", "http://127.0.0.1:9", "--academie", "Lyon"]) == 0
    captured = capsys.readouterr()
    assert "Réseau" not in captured.out and "Couverture des RBE indisponible" in captured.err
