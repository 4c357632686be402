from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.live import ROOT
from tests.support.servers import RedisServer


class RelayProcess:
    """`monlyceepro relay SERVICE`: a standalone outbox relay that a test can SIGKILL and restart."""

    def __init__(self, service: str, env: dict[str, str], log_path) -> None:
        self.service, self.env, self.log_path = service, env, log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> RelayProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "services.cli", "relay", self.service], cwd=ROOT,
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def persistent_redis():
    """A private Redis with an fsynced append-only file, so a restart keeps streams and groups."""
    server = RedisServer(persistent=True).start()
    yield server
    server.stop()
