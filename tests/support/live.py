"""Run real services for integration tests.

* ``ServiceProcess``: a service as a real process (``monlyceepro serve NAME``), which a test can
  SIGKILL and restart; configured through ``MLP_*`` environment variables.
* ``RelayProcess``: a standalone outbox relay (``monlyceepro relay SERVICE``), likewise.
* ``service_env``: the environment for a whole test system (private Redis, per-service SQLite or
  PostgreSQL, SMTP sink and inbound SMTP on free ports).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.eventually import eventually
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def service_env(tmp_path: Path, redis_url: str, **overrides: str) -> dict[str, str]:
    ports = {name: free_port() for name in ("intake", "catalog", "matcher", "notifier")}
    env = {
        **os.environ,
        "MLP_ENV": "test",
        "MLP_REDIS_URL": redis_url,
        "MLP_VAR_DIR": str(tmp_path / "var"),
        "MLP_DATABASE_URL": f"sqlite:///{tmp_path}/{{service}}.db",
        "MLP_SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
        "MLP_INBOUND_SMTP_PORT": str(free_port()),
        "MLP_CLAIM_IDLE_MS": "1000",
        "MLP_INTAKE_URL": f"http://127.0.0.1:{ports['intake']}",
        "MLP_PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['intake']}",
        "MLP_CATALOG_URL": f"http://127.0.0.1:{ports['catalog']}",
        "MLP_CATALOG_PUBLIC_URL": f"http://127.0.0.1:{ports['catalog']}",
        "MLP_MATCHER_URL": f"http://127.0.0.1:{ports['matcher']}",
        "MLP_NOTIFIER_URL": f"http://127.0.0.1:{ports['notifier']}",
        "MLP_NOTIFIER_API_URL": f"http://127.0.0.1:{ports['notifier']}",
    }
    env.update(overrides)
    return env


class ChildProcess:
    """A process of the system under test that a test can SIGKILL (a crash) or stop cleanly."""

    proc: subprocess.Popen | None = None
    _log = None  # the open log file the process writes to, if any

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self._log:
            self._log.close()
            self._log = None


class RelayProcess(ChildProcess):
    """`monlyceepro relay SERVICE`: a standalone outbox relay, logging to ``log_path``."""

    def __init__(self, service: str, env: dict[str, str], log_path: Path) -> None:
        self.service, self.env, self.log_path = service, env, log_path

    def start(self) -> RelayProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "services.cli", "relay", self.service], cwd=ROOT,
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when the process that started it dies (a benchmark killed
    mid-run leaves no orphaned services). Linux's PR_SET_PDEATHSIG follows the starting *thread*, so
    only runs that start their processes from the main thread opt in."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux/glibc: best effort
        pass


class ServiceProcess(ChildProcess):
    """``monlyceepro serve NAME`` as a real process; ``orphan_safe`` ties its life to this process."""

    def __init__(self, name: str, env: dict[str, str], port: int | None = None, log_dir: Path | None = None, *,
                 orphan_safe: bool = False) -> None:
        self.name = name
        self.env = dict(env)
        self.port = port or int(env[f"MLP_{name.upper()}_URL"].rsplit(":", 1)[1])
        self.log_dir = log_dir
        self.orphan_safe = orphan_safe

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} not started"
        return self.proc.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_ready: bool = True, timeout: float = 60) -> ServiceProcess:
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_dir / f"{self.name}-{self.port}.log", "ab")
        command = [sys.executable, "-m", "services.cli", "serve", self.name, "--port", str(self.port)]
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT, preexec_fn=die_with_parent if self.orphan_safe else None,
        )
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60, path: str = "/readyz") -> None:
        def ready() -> bool:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
            return httpx.get(self.url + path, timeout=1).status_code == 200

        eventually(ready, timeout=timeout, what=f"{self.name} ready", ignoring=(httpx.HTTPError,))


def children_of(pid: int) -> dict[str, int]:
    """The running children of a process by name (``/proc/<pid>/comm``: ``mlp-<service>`` for the forks of
    ``monlyceepro serve-all``)."""
    out: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out[name] = int(entry.name)
    return out


def sigkill_when(command: list[str], env: dict[str, str], condition, what) -> int:
    """Run ``command`` (a CLI run) and kill it with SIGKILL once ``condition()`` holds: a crash mid-run.
    Returns its return code (``-SIGKILL`` unless it finished first)."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        eventually(condition, timeout=120, interval=0.005, what=what)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    return process.returncode
