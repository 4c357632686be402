"""The benchmarks' open-loop load generator and how its requests are found again in the SMTP sink.

Every request gets a unique company name (``Bench <run>-<n>``) and contact address; the lead RBE of
each request comes from the ``mlp.request.routed`` stream, and its email is found in the sink by
recipient and company name in the subject.

The generator is Python (asyncio, raw keep-alive HTTP/1.1): it is open-loop, which wrk is not, but it
has a ceiling of its own. ``generator_ceiling`` measures it against the bare FastAPI endpoint in the
same run, so every figure it drives can be checked against it (``bench.wrk.honest_ratio``'s rule).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from tests.support.live import ROOT
from tests.support.servers import free_port

COMPANY_RE = re.compile(r"Bench [0-9a-f]{6}-\d+")
# Places and jobs with lycées nearby, checked at start-up against the matcher's preview.
PLACES = ["69007", "75011", "13001", "31000", "33000", "59000", "44000", "67000", "35000", "34000",
          "06000", "21000", "37000", "63000", "76000", "87000", "29200", "80000", "45000", "51100"]
JOBS = ["Boulanger", "Électricien", "Cuisinier", "Coiffeur", "Maçon", "Plombier", "Vendeur",
        "Mécanicien automobile", "Menuisier", "Aide-soignant"]


# -- the generator --------------------------------------------------------------------------------------

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


CEILING_OFFER = 8000  # req/s offered to the bare endpoint to find the generator's ceiling


def generator_ceiling(rate: float = CEILING_OFFER, duration_s: float = 3) -> float:
    """Requests/s this generator gets answered by the bare FastAPI endpoint (``bench.intake_throughput:
    bare_app``: JSON parsing and a 202, one uvicorn worker), offered ``rate`` for ``duration_s``: above
    a third of it, a figure could be the generator's limit rather than the system's."""
    from bench.intake_throughput import wait_up

    port = free_port()
    bare = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.intake_throughput:bare_app", "--port",
                             str(port), "--log-level", "warning", "--no-access-log"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url + "/docs")  # the same wait as intake_throughput's for the same app
        targets = [(PLACES[0], JOBS[0])]
        asyncio.run(drive(url, rate / 10, 0.5, targets))  # warm-up
        run = asyncio.run(drive(url, rate, duration_s, targets))
        done = [s.accepted_ns for s in run.accepted if s.accepted_ns is not None]
        return len(done) / max((max(done) - run.started_ns) / 1e9, 1e-9) if done else 0.0
    finally:
        bare.terminate()
        bare.wait(10)


def ceiling_note(ceiling: float, highest_rate: float) -> str:
    """One sentence for a benchmark's section: the generator's ceiling and whether a figure could be its."""
    from bench.wrk import CEILING_SHARE

    share = highest_rate / ceiling if ceiling else float("inf")
    verdict = ("far enough below it for the figures to be the system's" if share <= CEILING_SHARE
               else "**above a third of it: the figures may be the generator's limit, not the system's**")
    # Answered about all it was offered: the true ceiling is at least that.
    at_least = "at least " if ceiling >= 0.95 * CEILING_OFFER else ""
    return (f"Load generator's ceiling, measured in the same run against the bare FastAPI endpoint: "
            f"{at_least}{ceiling:.0f} req/s; the highest rate offered, {highest_rate:g} req/s, is {share:.0%} of it, "
            f"{verdict}.")
