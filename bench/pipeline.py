"""Harness shared by the end-to-end benchmarks: the whole system as real processes (four
``monlyceepro serve`` services, a private redis-server, SQLite or PostgreSQL databases with the
real catalog, a recording SMTP sink in its own process), an open-loop load generator, and
samplers for per-process CPU/RSS and stream lag.

Traffic stays on loopback. Every request gets a unique company name and contact address; the
lead RBE of each request is read back from the ``mlp.request.routed`` stream (the contract), and
its email is found in the sink by recipient + company name in the subject.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from shared.contracts.events import Streams, event_from_payload
from tests.support.live import ROOT, service_env
from tests.support.servers import RedisServer, create_postgres_database, free_port, postgres_admin_url

SERVICES = ("catalog", "intake", "matcher", "notifier")
CLK_TCK = os.sysconf("SC_CLK_TCK")
COMPANY_RE = re.compile(r"Bench [0-9a-f]{6}-\d+")
# Places and jobs with lycées nearby, checked at start-up against the matcher's preview.
PLACES = ["69007", "75011", "13001", "31000", "33000", "59000", "44000", "67000", "35000", "34000",
          "06000", "21000", "37000", "63000", "76000", "87000", "29200", "80000", "45000", "51100"]
# Copies per request on the benchmarks' targets: the lead RBE, two copies, the company's acknowledgement.
EMAILS_PER_REQUEST = 4
JOBS = ["Boulanger", "Électricien", "Cuisinier", "Coiffeur", "Maçon", "Plombier", "Vendeur",
        "Mécanicien automobile", "Menuisier", "Aide-soignant"]


# -- processes ---------------------------------------------------------------------------------

def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM if the benchmark process dies (no orphaned services)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux/glibc: best effort
        pass


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


class Service:
    """One service as a real process; optionally run under pyinstrument."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path, pyinstrument_out: Path | None = None) -> None:
        self.name, self.env, self.log_dir = name, env, log_dir
        self.port = int(env[f"MLP_{name.upper()}_URL"].rsplit(":", 1)[1])
        self.pyinstrument_out = pyinstrument_out
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Service:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{self.name}.log", "ab")  # noqa: SIM115 - closed with the process
        prefix = [sys.executable, "-m", "services.cli"]
        if self.pyinstrument_out:
            prefix = [sys.executable, "-m", "pyinstrument", "-r", "text", "--show-all", "-o",
                      str(self.pyinstrument_out), "-m", "services.cli"]
        self.proc = subprocess.Popen([*prefix, "serve", self.name, "--port", str(self.port)], cwd=ROOT,
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent)
        log.close()
        return self

    def wait_ready(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} s'est arrêté (code {self.proc.returncode}), voir {self.log_dir}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


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
                                     preexec_fn=_die_with_parent)
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


def _catalog_template() -> Path:
    """The real catalog loaded once into SQLite, cached by a hash of data/ and the catalog's code."""
    digest = hashlib.sha256()
    for path in sorted([*(ROOT / "data").glob("*.csv"), *(ROOT / "services" / "catalog").glob("*.py")]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    cache = Path(tempfile.gettempdir()) / "mlp-bench-cache"
    cache.mkdir(exist_ok=True)
    db = cache / f"catalog-{digest.hexdigest()[:12]}.db"
    if not db.exists():
        tmp = db.with_suffix(f".{os.getpid()}.tmp")
        env = {**service_env(cache, "redis://127.0.0.1:1/0"), "MLP_DATABASE_URL": f"sqlite:///{tmp}"}
        subprocess.run([sys.executable, "-m", "services.cli", "load-catalog"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        tmp.rename(db)
    return db


# -- the system --------------------------------------------------------------------------------

class Pipeline:
    def __init__(self, workdir: Path, *, postgres: bool = False, log_level: str = "INFO",
                 extra_env: dict[str, str] | None = None, pyinstrument: dict[str, Path] | None = None,
                 migrate_first: bool = False) -> None:
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
        self.pyinstrument = pyinstrument or {}
        self.services: dict[str, Service] = {}
        self._drops: list = []
        self.env: dict[str, str] = {}

    def start(self) -> Pipeline:
        exit_on_sigterm()
        self.redis_server.start()
        self.sink.start()
        self.env = service_env(
            self.workdir, self.redis_server.url, MLP_SMTP_URL=self.sink.url, MLP_LOG_LEVEL=self.log_level,
            MLP_CLAIM_IDLE_MS="30000",  # production default: no re-delivery of slow entries under load
            MLP_RATE_LIMIT_IP="1000000000", MLP_RATE_LIMIT_EMAIL="1000000", **self.extra_env,
        )
        if self.postgres:
            admin = postgres_admin_url()
            if admin is None:
                raise RuntimeError("PostgreSQL ne répond pas sur 127.0.0.1:5432 (ou MLP_TEST_POSTGRES_URL)")
            urls = {}
            for name in SERVICES:
                url, drop = create_postgres_database(admin)
                urls[name] = url
                self._drops.append(drop)
            self.service_env = {name: {**self.env, "MLP_DATABASE_URL": url} for name, url in urls.items()}
            subprocess.run([sys.executable, "-m", "services.cli", "load-catalog"], cwd=ROOT,
                           env=self.service_env["catalog"], check=True, stdout=subprocess.DEVNULL)
        else:
            shutil.copy(_catalog_template(), self.workdir / "catalog.db")
            self.service_env = {name: self.env for name in SERVICES}
        if self.migrate_first:
            for name in SERVICES:
                subprocess.run([sys.executable, "-m", "services.cli", "migrate", name], cwd=ROOT,
                               env=self.service_env[name], check=True, stdout=subprocess.DEVNULL)
        for name in SERVICES:  # all at once: the matcher retries its snapshot until the catalog answers
            svc = Service(name, self.service_env[name], self.workdir / "logs", self.pyinstrument.get(name))
            self.services[name] = svc.start()
        for svc in self.services.values():
            svc.wait_ready()
        self.redis = redis.Redis.from_url(self.redis_server.url)
        return self

    def stop(self) -> None:
        for svc in reversed(list(self.services.values())):
            svc.stop()
        self.sink.stop()
        self.redis_server.stop()
        for drop in self._drops:
            try:
                drop()
            except Exception as exc:  # noqa: BLE001 - best effort cleanup
                print(f"(base PostgreSQL non supprimée : {exc})", file=sys.stderr)

    def url(self, service: str) -> str:
        return self.services[service].url

    def pids(self) -> dict[str, int]:
        return {name: svc.pid for name, svc in self.services.items()}

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


# -- load --------------------------------------------------------------------------------------

@dataclass
class Submission:
    company: str
    contact: str
    scheduled_ns: int
    accepted_ns: int | None = None
    status: int | None = None
    request_id: str | None = None


@dataclass
class LoadRun:
    rate: float
    duration_s: float
    started_ns: int = 0
    submissions: list[Submission] = field(default_factory=list)

    @property
    def accepted(self) -> list[Submission]:
        return [s for s in self.submissions if s.status == 202]


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


def request_body(company: str, contact: str, place: str, job: str) -> dict:
    return {
        "needs": ["pfmp"], "jobs": [job], "location": {"postal_code": place}, "radius_km": 30,
        "company_name": company, "contact": {"name": "Camille Martin", "email": contact},
        "message": "Nous pouvons accueillir deux élèves de seconde au printemps.", "places": 2,
        "period": "mars à juin 2027",
    }


class _Connection:
    """One keep-alive HTTP/1.1 connection on loopback (the load generator must stay cheap: httpx's
    pool costs O(waiting requests) per request and became the bottleneck above ~50 req/s)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, body: bytes) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                self.writer.write(
                    f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                await self.writer.drain()
                assert self.reader is not None
                head = await self.reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)}
                payload = await self.reader.readexactly(int(headers.get("content-length", "0")))
                if headers.get("connection", "").lower() == "close":
                    self.close()
                return status, payload
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def drive(url: str, rate: float, duration_s: float, targets: list[tuple[str, str]],
                run_tag: str | None = None, concurrency: int = 128) -> LoadRun:
    """Open-loop load: request i is due at start + i/rate whatever the answers' delays; up to
    ``concurrency`` keep-alive connections take due requests in order. A request's 202 latency is
    counted from its due time, so queueing in the generator is not hidden."""
    import json

    tag = run_tag or uuid.uuid4().hex[:6]
    run = LoadRun(rate=rate, duration_s=duration_s)
    total = max(1, int(rate * duration_s))
    host, port = url.split("//", 1)[1].split(":")
    queue: asyncio.Queue = asyncio.Queue()

    async def worker() -> None:
        conn = _Connection(host, int(port))
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                sub, body = item
                try:
                    status, payload = await conn.post_json("/api/v1/requests", body)
                    sub.accepted_ns, sub.status = time.monotonic_ns(), status
                    if status == 202:
                        sub.request_id = json.loads(payload)["request_id"]
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    sub.status = -1
                    conn.close()
        finally:
            conn.close()

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    run.started_ns = time.monotonic_ns()
    for i in range(total):
        at = run.started_ns + int(i * 1e9 / rate)
        delay = (at - time.monotonic_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        company = f"Bench {tag}-{i}"
        contact = f"contact.{tag}.{i}@bench-entreprise.fr"
        place, job = targets[i % len(targets)]
        sub = Submission(company, contact, at)
        run.submissions.append(sub)
        queue.put_nowait((sub, json.dumps(request_body(company, contact, place, job)).encode()))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return run


# -- matching ----------------------------------------------------------------------------------

def first_rbe_email_ns(records: list[tuple[int, str, str]]) -> dict[str, int]:
    """company name -> time of the first email to anyone but the company itself (progress proxy)."""
    out: dict[str, int] = {}
    for stamp, rcpts, subject in records:
        m = COMPANY_RE.search(subject)
        if m and "bench-entreprise.fr" not in rcpts and m.group(0) not in out:
            out[m.group(0)] = stamp
    return out


def lead_latencies_ms(run: LoadRun, records: list[tuple[int, str, str]], leads: dict[str, str]) -> tuple[
        list[float], int]:
    """Time from the 202 to the lead RBE's email accepted by the sink, for each request; and how
    many accepted requests have no lead email (yet)."""
    by_company: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for stamp, rcpts, subject in records:
        m = COMPANY_RE.search(subject)
        if m:
            by_company[m.group(0)].append((stamp, rcpts.lower()))
    latencies, missing = [], 0
    for sub in run.accepted:
        lead = leads.get(sub.request_id or "")
        hit = [stamp for stamp, rcpts in by_company.get(sub.company, []) if lead and lead in rcpts.split(",")]
        if not hit or sub.accepted_ns is None:
            missing += 1
            continue
        latencies.append((min(hit) - sub.accepted_ns) / 1e6)
    return latencies, missing


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
