"""The committed OpenAPI/AsyncAPI documents match the code (scripts/gen_contracts.py --check)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from shared.contracts.events import Streams
from shared.platform.settings import SERVICES
from tests.ops.support import ROOT

CONTRACTS = ROOT / "docs" / "contracts"
sys.path.insert(0, str(ROOT / "scripts"))
import gen_contracts  # noqa: E402


def test_committed_contracts_match_the_code():
    result = subprocess.run([sys.executable, str(ROOT / "scripts/gen_contracts.py"), "--check"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]


def test_check_mode_fails_on_a_stale_or_missing_file_and_passes_once_written(tmp_path, monkeypatch):
    files = {"asyncapi.json": '{"asyncapi": "3.0.0"}\n', "openapi-intake.json": '{"openapi": "3.1.0"}\n'}
    monkeypatch.setattr(gen_contracts, "render", lambda: dict(files))
    (tmp_path / "asyncapi.json").write_text("{}\n", encoding="utf-8")
    assert gen_contracts.main(["--check", "--out", str(tmp_path)]) == 1
    assert gen_contracts.main(["--out", str(tmp_path)]) == 0
    assert gen_contracts.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "openapi-intake.json").unlink()
    assert gen_contracts.main(["--check", "--out", str(tmp_path)]) == 1


def test_every_existing_service_has_its_openapi():
    for service in SERVICES:
        if (ROOT / "services" / service / "app.py").exists():
            doc = json.loads((CONTRACTS / f"openapi-{service}.json").read_text(encoding="utf-8"))
            assert doc["openapi"].startswith("3.") and "/readyz" in doc["paths"]


def test_asyncapi_describes_every_stream_with_its_event_schema():
    doc = json.loads((CONTRACTS / "asyncapi.json").read_text(encoding="utf-8"))
    assert doc["asyncapi"].startswith("3.")
    sent = {ch["address"] for ch in doc["channels"].values() if ch["bindings"]["redis"]["method"] == "xadd"}
    assert set(Streams.ALL) <= sent
    received = [ch for ch in doc["channels"].values() if ch["bindings"]["redis"]["method"] == "xreadgroup"]
    for channel in received:  # every subscription carries the typed envelope, not an opaque body
        (ref,) = channel["messages"].values()
        message = doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]
        assert message["payload"]["$ref"].endswith("Envelope")
    schemas = doc["components"]["schemas"]
    assert "correlation_id" in schemas["RequestSubmitted"]["required"]


def test_declared_producers_publish_their_events():
    for stream, service in gen_contracts.PRODUCERS.items():
        cls = gen_contracts.event_class_of(stream)
        folder = ROOT / "services" / service
        if not (folder / "app.py").exists():
            continue
        code = "\n".join(p.read_text(encoding="utf-8") for p in folder.rglob("*.py"))
        assert re.search(rf"\b{cls.__name__}\(", code), f"{service} ne construit jamais {cls.__name__}"
    assert set(gen_contracts.PRODUCERS) == set(Streams.ALL)
