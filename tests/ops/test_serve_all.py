"""`monlyceepro serve-all` (what `monlyceepro up` runs): services forked from one launcher that imported
their common stack once, then replaced itself with a small watcher. Real processes: the services stay the
watcher's children and stop with it; one of them dying stops the others, with its exit code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.eventually import eventually
from tests.support.live import ROOT, children_of, service_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
SERVICES = ("intake", "notifier")


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def launched(tmp_path, redis_url):
    env = service_env(tmp_path, redis_url)
    ports = {name: int(env[f"MLP_{name.upper()}_URL" if name != "notifier" else "MLP_NOTIFIER_API_URL"]
                       .rsplit(":", 1)[1]) for name in SERVICES}
    log = open(tmp_path / "serve-all.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "services.cli", "serve-all",
                             *(f"{name}={port}" for name, port in ports.items())],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"serve-all exited with {proc.returncode}:\n{(tmp_path / 'serve-all.log').read_text()}")
        return all(httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
                   for port in ports.values())

    try:
        eventually(up, timeout=90, interval=0.5, what="the forked services answering", ignoring=(httpx.HTTPError,))
        yield proc, children_of(proc.pid), tmp_path / "serve-all.log"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()


def test_the_services_are_forks_of_a_watcher_that_no_longer_holds_the_stack_and_stop_on_sigterm(launched):
    proc, children, _ = launched
    assert set(children) == {f"mlp-{name}" for name in SERVICES}, children
    # The launcher imported ~95 MiB of libraries, then exec'd the watcher: a bare interpreter.
    assert rss_mib(proc.pid) < 40, rss_mib(proc.pid)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert not any(alive(pid) for pid in children.values())


def test_a_service_killed_stops_the_others_and_its_code_is_the_launchers(launched):
    proc, children, log = launched
    os.kill(children["mlp-intake"], signal.SIGKILL)
    assert proc.wait(30) == 128 + signal.SIGKILL
    eventually(lambda: not alive(children["mlp-notifier"]), timeout=15, what="the notifier stopped")
    assert "le service intake s'est arrêté" in log.read_text()


def test_the_watcher_killed_takes_the_services_with_it(launched):
    proc, children, _ = launched
    proc.kill()
    proc.wait(10)
    eventually(lambda: not any(alive(pid) for pid in children.values()), timeout=15,
               what="the services stopped with their parent")
