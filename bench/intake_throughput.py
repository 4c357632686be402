"""Intake throughput: accepted requests/s (validation + request row + outbox row in one transaction, shared by concurrent requests)
against a bare FastAPI endpoint, in the same run, on loopback.

    .venv/bin/python -m bench.intake_throughput [--requests 1500] [--concurrency 16] [--database-url URL]

Both servers are real uvicorn processes (one worker each); the load is an async httpx loop
bounded in count. Writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from sqlalchemy import create_engine, text

from bench.report import percentile, write_section

ROOT = Path(__file__).resolve().parent.parent

# The baseline: same body, same server, nothing but JSON parsing and a 202.
bare_app = FastAPI()


@bare_app.post("/api/v1/requests", status_code=202)
async def bare_endpoint(request: Request) -> dict:
    await request.json()
    return {"request_id": "0", "status_url": "http://bench/suivi/0"}


def payload(i: int) -> dict:
    return {
        "needs": ["pfmp", "apprentissage"], "jobs": ["Boulanger", "D1102"], "naf": "10.71C",
        "siret": "73282932000074", "location": {"postal_code": "69007"}, "radius_km": 20,
        "company_name": f"Boulangerie {i}",
        "contact": {"name": "Jeanne Martin", "email": f"bench{i}@boulangerie-dupont.fr", "phone": "04 72 00 00 00"},
        "message": "Nous pouvons accueillir deux élèves au printemps.", "places": 2, "period": "mars à juin",
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


async def load(url: str, n: int, concurrency: int, offset: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    accepted = 0
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        async def worker() -> None:
            nonlocal accepted
            for i in counter:
                started = time.perf_counter()
                response = await client.post(url, json=payload(offset + i))
                latencies.append(time.perf_counter() - started)
                accepted += response.status_code == 202

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, accepted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default=None, help="défaut : SQLite dans un dossier temporaire")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    from tests.support.servers import RedisServer

    tmp = Path(tempfile.mkdtemp(prefix="mlp-bench-intake-"))
    database_url = args.database_url or f"sqlite:///{tmp}/intake.db"
    redis_server = RedisServer().start()
    intake_port, bare_port = free_port(), free_port()
    env = {
        **os.environ, "MLP_ENV": "test", "MLP_REDIS_URL": redis_server.url, "MLP_DATABASE_URL": database_url,
        "MLP_VAR_DIR": str(tmp), "MLP_PUBLIC_BASE_URL": f"http://127.0.0.1:{intake_port}", "MLP_LOG_LEVEL": "WARNING",
        "MLP_RATE_LIMIT_IP": "1000000", "MLP_RATE_LIMIT_EMAIL": "1000000",
    }
    procs = [
        subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "intake", "--port", str(intake_port)],
                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.intake_throughput:bare_app", "--port", str(bare_port),
                          "--log-level", "warning", "--no-access-log"],
                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        wait_up(f"http://127.0.0.1:{intake_port}/healthz")
        wait_up(f"http://127.0.0.1:{bare_port}/docs")
        load_before = os.getloadavg()[0]
        results = {}
        for name, port in (("bare", bare_port), ("intake", intake_port)):
            url = f"http://127.0.0.1:{port}/api/v1/requests"
            asyncio.run(load(url, 50, 4, offset=10_000_000))  # warm-up
            elapsed, latencies, accepted = asyncio.run(load(url, args.requests, args.concurrency, offset=0))
            results[name] = (args.requests / elapsed, percentile(latencies, 50) * 1000,
                             percentile(latencies, 95) * 1000, accepted)
            print(f"{name:7s} {results[name][0]:8.1f} req/s  p50 {results[name][1]:6.1f} ms  "
                  f"p95 {results[name][2]:6.1f} ms  accepted {accepted}/{args.requests}")
        load_after = os.getloadavg()[0]
        engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT COUNT(*) FROM intake_request")).scalar_one()
            outbox = conn.execute(text("SELECT COUNT(*) FROM outbox_event")).scalar_one()
        engine.dispose()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(15)
        redis_server.stop()
    expected = args.requests + 50
    assert rows == outbox == expected, (rows, outbox, expected)
    ratio = results["intake"][0] / results["bare"][0]
    db = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite (WAL)"
    body = f"""
{args.requests} POST requests per server, {args.concurrency} concurrent connections, after a 50-request warm-up;
one uvicorn worker per server, loopback, {db}; every intake request is a valid, distinct company request.

| Endpoint | Requests/s | p50 (ms) | p95 (ms) | Accepted |
|---|---:|---:|---:|---:|
| bare FastAPI (JSON parse, 202) | {results['bare'][0]:.0f} | {results['bare'][1]:.1f} | {results['bare'][2]:.1f} | {results['bare'][3]} |
| intake `POST /api/v1/requests` (validation + request row + outbox row; concurrent requests share a transaction) | {results['intake'][0]:.0f} | {results['intake'][1]:.1f} | {results['intake'][2]:.1f} | {results['intake'][3]} |

**Ratio intake / bare: {ratio:.2f}** ({ratio * 100:.0f} % of the bare endpoint's throughput).
Check after the run: {rows} request rows and {outbox} outbox rows (warm-up included), one for one.
Load average during the run: {load_before:.1f} → {load_after:.1f} on {os.cpu_count()} cores (the load generator,
both servers and Redis share them; other jobs may too): read the ratio, not the absolute figures.
"""
    print(f"ratio intake/bare = {ratio:.2f}")
    if not args.no_write:
        write_section("intake_throughput", "Intake throughput vs a bare FastAPI endpoint", body,
                      command="python -m bench.intake_throughput " + " ".join(argv or sys.argv[1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
