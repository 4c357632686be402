"""The reverse proxy sends each public path to the right service (real Caddy, stub upstreams).

Caddy is not installed by scripts/deps.sh: this test is skipped where `caddy` is absent
(apt-get install -y caddy to run it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.ops.support import ROOT
from tests.support.eventually import eventually
from tests.support.servers import free_port

CADDY = shutil.which("caddy")
pytestmark = pytest.mark.skipif(CADDY is None, reason="caddy absent (apt-get install -y caddy)")


def _stub(name: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            body = f"{name} {self.path} {self.headers.get('X-Forwarded-For', '')}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args):
            return

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    stubs = {name: _stub(name) for name in ("intake", "catalog", "notifier")}
    port = free_port()
    config = (ROOT / "deploy/caddy/Caddyfile").read_text(encoding="utf-8").replace(":80 {", f"http://127.0.0.1:{port} {{")
    for name, server in stubs.items():
        config = config.replace(f"reverse_proxy {name}:", f"reverse_proxy 127.0.0.1:{server.server_port} #")
    path = tmp_path_factory.mktemp("caddy") / "Caddyfile"
    path.write_text(config, encoding="utf-8")
    home = str(path.parent)  # Caddy's data/config dirs: nothing written outside the test's tmp dir
    proc = subprocess.Popen([CADDY, "run", "--adapter", "caddyfile", "--config", str(path)],
                            env={**os.environ, "HOME": home, "XDG_DATA_HOME": home, "XDG_CONFIG_HOME": home},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    eventually(lambda: httpx.get(url + "/", timeout=1), timeout=20, what="Caddy answering",
               ignoring=(httpx.HTTPError,))
    yield url
    proc.terminate()
    proc.wait(10)
    for server in stubs.values():
        server.shutdown()


@pytest.mark.parametrize(("path", "service"), [
    ("/", "catalog"),
    ("/lycees/0690001A", "catalog"),
    ("/api/v1/metiers?q=boulanger", "catalog"),
    ("/api/v1/lycees?metier=boulanger", "catalog"),
    ("/espace-rbe", "catalog"),
    ("/evenements?lieu=69007", "catalog"),
    ("/lycees/0690001A/image?v=abc", "catalog"),
    ("/dsfr/dsfr.min.css", "catalog"),
    ("/demande", "intake"),
    ("/demande?uai=0690001A&metiers=Boulanger", "intake"),
    ("/demande/merci/abc", "intake"),
    ("/suivi/abc", "intake"),
    ("/impact", "intake"),
    ("/api/v1/requests", "intake"),
    ("/api/v1/suivi/abc", "intake"),
    ("/api/v1/impact?period=30j", "intake"),
    ("/api/v1/autocomplete/communes?q=lyon", "intake"),
    ("/api/v1/autocomplete/periode?q=mars&uai=0690001A", "intake"),
    ("/static/form.js", "intake"),
    ("/integrer/les-entreprises-s-engagent", "intake"),
    ("/integrer/les-entreprises-s-engagent/merci/abc", "intake"),
    ("/api/v1/partenaire/bilan", "intake"),
    ("/api/v1/partenaire/demandes/abc", "intake"),
    ("/actions/token123", "notifier"),
])
def test_public_paths_reach_their_service(proxy, path, service):
    response = httpx.get(proxy + path, timeout=5)
    assert response.status_code == 200
    assert response.text.split()[0] == service
    assert response.text.split()[1] == path


@pytest.mark.parametrize("path", ["/metrics", "/api/v1/snapshot", "/api/v1/admin/rbe/import", "/api/v1/routing/preview"])
def test_internal_endpoints_are_not_published(proxy, path):
    response = httpx.get(proxy + path, timeout=5)
    assert response.status_code == 404
    assert response.text == "Introuvable"


def test_client_cannot_forge_its_ip_for_the_rate_limits(proxy):
    response = httpx.post(proxy + "/api/v1/requests", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=5)
    assert response.text.split()[0] == "intake"
    assert response.text.split()[2] == "127.0.0.1"  # the connection's address, not the forged header


def test_only_the_embedded_form_may_be_framed(proxy):
    """X-Frame-Options DENY everywhere but /integrer/*, which intake protects with CSP frame-ancestors."""
    for path in ("/demande", "/suivi/abc", "/", "/api/v1/requests"):
        assert httpx.get(proxy + path, timeout=5).headers["x-frame-options"] == "DENY", path
    for path in ("/integrer/les-entreprises-s-engagent", "/integrer/les-entreprises-s-engagent/merci/abc"):
        assert "x-frame-options" not in httpx.get(proxy + path, timeout=5).headers, path
