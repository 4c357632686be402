"""`monlyceepro up` (README's one command, `make run`) as a developer runs it: its own defaults
(SQLite in the var directory, the local SMTP sink writing to var/mailbox, a redis-server it starts
itself because none answers), only the ports moved to free ones. It migrates every database, loads
the catalog on first start, starts the four services; one request is routed and its emails land in
the mailbox; SIGTERM, or Ctrl-C (SIGINT to the process group), stops the whole system cleanly: exit
code 0, no port left open."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from services.mailsink import list_mailbox
from tests.support.eventually import eventually
from tests.support.live import ROOT, service_env
from tests.support.servers import free_port
from tests.support.system import FAST_ENV, request_body

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("stop", ["sigterm", "ctrl-c"])
def test_monlyceepro_up_migrates_starts_routes_one_request_and_stops_cleanly(tmp_path, stop):
    redis_port = free_port()
    env = service_env(tmp_path, f"redis://127.0.0.1:{redis_port}/0", **FAST_ENV)
    del env["MLP_DATABASE_URL"]  # the default: sqlite:///{var_dir}/{service}.db
    env.pop("MLP_TEST_POSTGRES_URL", None)
    var = Path(env["MLP_VAR_DIR"])
    ports = {name: int(env[f"MLP_{name.upper()}_URL"].rsplit(":", 1)[1]) for name in ("intake", "catalog", "matcher")}
    ports["notifier"] = int(env["MLP_NOTIFIER_API_URL"].rsplit(":", 1)[1])
    smtp_port = int(env["MLP_SMTP_URL"].rsplit(":", 1)[1])
    assert not listening(redis_port)
    command = Path(sys.executable).parent / "monlyceepro"  # .venv/bin/monlyceepro up
    log = open(tmp_path / "up.log", "wb")
    proc = subprocess.Popen([str(command), "up"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"monlyceepro up exited with {proc.returncode}:\n{(tmp_path / 'up.log').read_text()}")
            return all(httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
                       for port in ports.values())

        eventually(ready, timeout=300, interval=1, what="the four services ready", ignoring=(httpx.HTTPError,))
        output = (tmp_path / "up.log").read_text()
        assert "monlyceepro migrate" in output and "Redis démarré" in output, output
        for service in ("intake", "catalog", "matcher", "notifier"):
            assert (var / f"{service}.db").exists()
        assert (var / "catalog.loaded").exists()  # first start: the catalog was loaded

        body = request_body(0, tag=f"up{uuid.uuid4().hex[:4]}")
        response = httpx.post(f"http://127.0.0.1:{ports['intake']}/api/v1/requests", json=body, timeout=10)
        assert response.status_code == 202, response.text
        status_url = response.json()["status_api_url"]
        eventually(lambda: httpx.get(status_url, timeout=5).json()["status"] == "routed", timeout=60,
                   what="the request routed", ignoring=(httpx.HTTPError,))
        company = body["contact"]["email"]

        def recipients() -> list[str]:
            return [to for _, to, _ in list_mailbox(var / "mailbox")]

        # The company's acknowledgement and at least one RBE's message, written by `up`'s own sink.
        eventually(lambda: any(company in to for to in recipients()) and len(recipients()) >= 2, timeout=60,
                   what="emails at the local sink")

        if stop == "sigterm":  # a service manager, `kill`
            proc.send_signal(signal.SIGTERM)
        else:  # Ctrl-C in the terminal: SIGINT to the whole foreground process group, children included
            os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(60) == 0, (tmp_path / "up.log").read_text()
        # Nothing left behind: the services, the sink and the redis-server `up` started are gone.
        for port in (*ports.values(), smtp_port, redis_port):
            eventually(lambda port=port: not listening(port), timeout=15, what=f"port {port} closed")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
