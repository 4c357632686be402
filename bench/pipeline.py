"""The whole system as real processes for the end-to-end benchmarks: the test harness's ``System``
(four ``monlyceepro serve`` services, SQLite or PostgreSQL databases with the real catalog), a private
redis-server, a recording SMTP sink in its own process (``bench.sink``), and samplers for per-process
CPU/RSS and stream lag. The load generator is ``bench.load``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import redis

from bench.load import JOBS, PLACES, LoadRun, first_rbe_email_ns, request_body
from shared.contracts.events import Streams, event_from_payload
from tests.support.live import ROOT, die_with_parent
from tests.support.servers import RedisServer, create_postgres_database, free_port, postgres_admin_url
from tests.support.system import System, catalog_template

SERVICES = ("catalog", "intake", "matcher", "notifier")
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Copies per request on the benchmarks' targets: the lead RBE, two copies, the company's acknowledgement.
EMAILS_PER_REQUEST = 4


def exit_on_sigterm() -> None:
    """SIGTERM raises SystemExit, so the ``finally`` blocks stop the system cleanly."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def proc_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


class Sink:
    """``bench.sink`` in its own process; records are read back from its file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self._offset = 0
        self.records: list[tuple[int, str, str]] = []  # (monotonic ns, rcpts, subject)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> Sink:
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.sink", "--port", str(self.port), "--out",
                                      str(self.path)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                     preexec_fn=die_with_parent)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("le puits SMTP n'a pas démarré")
        return self

    def poll(self) -> list[tuple[int, str, str]]:
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as f:
            f.seek(self._offset)
            chunk = f.read()
        complete = chunk.rsplit("\n", 1)[0] + "\n" if "\n" in chunk else ""
        self._offset += len(complete.encode("utf-8"))
        new = []
        for line in complete.splitlines():
            stamp, rcpts, subject = line.split("\t", 2)
            new.append((int(stamp), rcpts, subject))
        self.records.extend(new)
        return new

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.poll()


# -- the system --------------------------------------------------------------------------------

class Pipeline:
    def __init__(self, workdir: Path, *, postgres: bool = False, log_level: str = "INFO",
                 extra_env: dict[str, str] | None = None, migrate_first: bool = False) -> None:
        self.workdir = workdir
        # As production does (the `migrate` one-shot of docker-compose.yml, the k8s job): every database is
        # migrated by its own process before the services start, which then only check it. Otherwise each
        # service migrates its empty database itself at start-up (test settings), and keeps what that imported.
        self.migrate_first = migrate_first
        self.postgres = postgres
        self.redis_server = RedisServer()
        self.sink = Sink(workdir / "sink.tsv")
        self.log_level = log_level
        self.extra_env = extra_env or {}
        self.system: System | None = None
        self._drops: list = []

    def start(self) -> Pipeline:
        exit_on_sigterm()
        self.redis_server.start()
        settings = {
            "MLP_LOG_LEVEL": self.log_level,
            "MLP_CLAIM_IDLE_MS": "30000",  # production default: no re-delivery of slow entries under load
            "MLP_RATE_LIMIT_IP": "1000000000", "MLP_RATE_LIMIT_EMAIL": "1000000", **self.extra_env,
        }
        # The real catalog loaded once, kept between runs (named by a hash of data/ and the loader's code).
        template = catalog_template(Path(tempfile.gettempdir()) / "mlp-bench-cache")
        per_service: dict[str, dict[str, str]] = {}
        if self.postgres:
            admin = postgres_admin_url()
            if admin is None:
                raise RuntimeError("PostgreSQL ne répond pas sur 127.0.0.1:5432 (ou MLP_TEST_POSTGRES_URL)")
            for name in SERVICES:
                url, drop = create_postgres_database(admin)
                per_service[name] = {"MLP_DATABASE_URL": url}
                self._drops.append(drop)
        self.system = System(self.workdir, self.redis_server.url, catalog_db=template, extra_env=settings,
                             sink=self.sink, orphan_safe=True,
                             database_url=per_service["catalog"]["MLP_DATABASE_URL"] if self.postgres else None)
        if self.postgres:
            subprocess.run([sys.executable, "-m", "services.cli", "load-catalog"], cwd=ROOT,
                           env={**self.system.env, **per_service["catalog"]}, check=True, stdout=subprocess.DEVNULL)
        if self.migrate_first:
            for name in SERVICES:
                subprocess.run([sys.executable, "-m", "services.cli", "migrate", name], cwd=ROOT,
                               env={**self.system.env, **per_service.get(name, {})}, check=True,
                               stdout=subprocess.DEVNULL)
        # All at once: the matcher retries its snapshot until the catalog answers.
        self.system.start(SERVICES, parallel=True, env=per_service, timeout=240)
        self.redis = redis.Redis.from_url(self.redis_server.url)
        return self

    def stop(self) -> None:
        if self.system is not None:
            self.system.stop()  # the services, then the sink
        self.redis_server.stop()
        for drop in self._drops:
            try:
                drop()
            except Exception as exc:  # noqa: BLE001 - best effort cleanup
                print(f"(base PostgreSQL non supprimée : {exc})", file=sys.stderr)

    def url(self, service: str) -> str:
        assert self.system is not None
        return self.system.url(service)

    def pids(self) -> dict[str, int]:
        assert self.system is not None
        return {name: self.system.process(name).pid for name in SERVICES}

    def support_pids(self) -> dict[str, int]:
        """The processes that stand in for the outside world and share the cores: Redis, the SMTP
        sink and this process (the load generator)."""
        out = {"load generator": os.getpid()}
        for name, proc in (("redis", self.redis_server.proc), ("sink", self.sink.proc)):
            if proc is not None:
                out[name] = proc.pid
        return out

    def group_lags(self) -> dict[str, int]:
        """Lag + pending of every consumer group on the request's path (XINFO GROUPS)."""
        out = {}
        for stream in (Streams.REQUEST_SUBMITTED, Streams.REQUEST_ROUTED):
            try:
                groups = self.redis.xinfo_groups(stream)
            except redis.ResponseError:
                continue
            for g in groups:
                name = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
                out[f"{stream.split('.')[-1]}/{name}"] = int(g.get("lag") or 0) + int(g.get("pending") or 0)
        return out

    def leads(self) -> dict[str, str]:
        """request_id -> lead RBE email, from the ``mlp.request.routed`` stream."""
        out: dict[str, str] = {}
        last = "-"
        while True:
            entries = self.redis.xrange(Streams.REQUEST_ROUTED, min=last, max="+", count=1000)
            if last != "-":
                entries = entries[1:]
            if not entries:
                return out
            for entry_id, fields in entries:
                last = entry_id.decode()
                raw = fields.get(b"__data__") or next(iter(fields.values()))
                event = _routed_event(raw)
                if event is None:
                    continue
                lead = next((r.rbe_email for r in event.recipients if r.role == "lead"), None)
                if lead is None and event.recipients:
                    lead = event.recipients[0].rbe_email
                if lead:
                    out[str(event.request_id)] = lead.lower()


def _routed_event(raw: bytes):
    import json

    text = raw.decode("utf-8", "replace")
    start = text.find('{"event_type"')
    if start < 0:
        return None
    try:
        body, _ = json.JSONDecoder().raw_decode(text[start:])
        return event_from_payload(body)
    except Exception:  # noqa: BLE001 - other framing: not one of ours
        return None


# -- waiting ---------------------------------------------------------------------------------

def usable_targets(pipeline: Pipeline) -> list[tuple[str, str]]:
    """(postal code, job) pairs the matcher routes to at least one lycée (checked via its preview)."""
    good = []
    with httpx.Client(timeout=10) as client:
        deadline = time.monotonic() + 120  # the matcher answers once it holds a catalog snapshot
        probe = request_body("Bench 000000-0", "preview@bench-entreprise.fr", PLACES[0], JOBS[0])
        while client.post(pipeline.url("matcher") + "/api/v1/routing/preview", json=probe).status_code == 503:
            if time.monotonic() > deadline:
                raise RuntimeError("le matcher n'a pas chargé le catalogue")
            time.sleep(0.3)
        for i, place in enumerate(PLACES):
            job = JOBS[i % len(JOBS)]
            body = request_body("Bench 000000-0", "preview@bench-entreprise.fr", place, job)
            r = client.post(pipeline.url("matcher") + "/api/v1/routing/preview", json=body)
            if r.status_code == 200 and any(x.get("role") == "lead" for x in r.json().get("recipients", [])):
                good.append((place, job))
    if not good:
        raise RuntimeError("aucun couple (code postal, métier) routable : catalogue vide ?")
    return good


def wait_emails(sink: Sink, expected: int, timeout: float) -> float | None:
    """Seconds until the sink holds ``expected`` messages in all, or None if it never does."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        sink.poll()
        if len(sink.records) >= expected:
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def wait_delivered(pipeline: Pipeline, runs: list[LoadRun], timeout: float) -> bool:
    """Wait until every accepted request of ``runs`` has an RBE email in the sink."""
    wanted = {s.company for run in runs for s in run.accepted}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline.sink.poll()
        if wanted <= set(first_rbe_email_ns(pipeline.sink.records)):
            return True
        time.sleep(0.5)
    return False


# -- sampling ----------------------------------------------------------------------------------

class Sampler(threading.Thread):
    """Every ``interval`` s: RSS and CPU of each service, lag of each group, sink progress."""

    def __init__(self, pipeline: Pipeline, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.pipeline, self.interval = pipeline, interval
        self.samples: list[dict] = []
        self._halt = threading.Event()

    def run(self) -> None:
        pids, support = self.pipeline.pids(), self.pipeline.support_pids()
        while not self._halt.is_set():
            sample = {"t_ns": time.monotonic_ns(),
                      "rss_kib": {n: proc_rss_kib(p) for n, p in pids.items()},
                      "cpu_s": {n: proc_cpu_s(p) for n, p in pids.items()},
                      "support_cpu_s": {n: proc_cpu_s(p) for n, p in support.items()}}
            try:
                sample["lags"] = self.pipeline.group_lags()
            except redis.RedisError:
                sample["lags"] = {}
            self.samples.append(sample)
            self._halt.wait(self.interval)

    def stop(self) -> list[dict]:
        self._halt.set()
        self.join(5)
        return self.samples


def cpu_share(samples: list[dict], start_ns: int, end_ns: int, key: str = "cpu_s") -> dict[str, float]:
    """Average CPU use (1.0 = one core) of each service (``key="support_cpu_s"``: each support
    process) between two instants (nearest samples)."""
    before = [s for s in samples if s["t_ns"] <= start_ns] or samples[:1]
    after = [s for s in samples if s["t_ns"] >= end_ns] or samples[-1:]
    if not before or not after or after[0]["t_ns"] <= before[-1]["t_ns"]:
        return {}
    first, last = before[-1], after[0]
    dt = (last["t_ns"] - first["t_ns"]) / 1e9
    return {n: (last[key][n] - first[key][n]) / dt for n in first.get(key, {})}


def peak_rss_mib(samples: list[dict], start_ns: int, end_ns: int) -> dict[str, float]:
    window = [s for s in samples if start_ns <= s["t_ns"] <= end_ns] or samples[-1:]
    return {n: max(s["rss_kib"][n] for s in window) / 1024 for n in window[0]["rss_kib"]}


def fmt_ms(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ") if value >= 1000 else f"{value:.0f}" if value >= 10 else f"{value:.1f}"
