"""Intake throughput: accepted requests/s (validation + request row + outbox row in one transaction, shared by
concurrent requests) against a bare FastAPI endpoint, driven by the same native generator in the same run.

    .venv/bin/python -m bench.intake_throughput [--seconds 10] [--connections 20] [--rounds 2] [--database-url URL]

Both servers are real uvicorn processes (one worker each), on loopback; the load is wrk (C, one thread)
with a Lua script that sends distinct valid company requests (bench/wrk.py). The bare endpoint's rate is
the generator's ceiling for this body: the ratio is reported only while intake stays under a third of it.
Intake's CPU per accepted request comes from /proc. Writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from sqlalchemy import create_engine, text

from bench.report import write_section
from bench.wrk import WrkResult, honest_ratio, run_wrk

ROOT = Path(__file__).resolve().parent.parent

# The baseline: same body, same server, nothing but JSON parsing and a 202.
bare_app = FastAPI()


@bare_app.post("/api/v1/requests", status_code=202)
async def bare_endpoint(request: Request) -> dict:
    await request.json()
    return {"request_id": "0", "status_url": "http://bench/suivi/0"}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (clock ticks in /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def row(name: str, r: WrkResult, accepted: int | str, cpu_ms: str = "") -> str:
    return (f"| {name} | {r.rate:.0f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.p99_ms:.1f} | {accepted} "
            f"| {r.non_2xx + r.socket_errors} | {cpu_ms} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="bare then intake, this many times")
    parser.add_argument("--database-url", default=None, help="défaut : SQLite dans un dossier temporaire")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="1 s, 1 round, nothing written")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds, args.rounds, args.no_write = 1, 1, True

    from tests.support.servers import RedisServer

    tmp = Path(tempfile.mkdtemp(prefix="mlp-bench-intake-"))
    database_url = args.database_url or f"sqlite:///{tmp}/intake.db"
    redis_server = RedisServer().start()
    intake_port, bare_port = free_port(), free_port()
    env = {
        **os.environ, "MLP_ENV": "test", "MLP_REDIS_URL": redis_server.url, "MLP_DATABASE_URL": database_url,
        "MLP_VAR_DIR": str(tmp), "MLP_PUBLIC_BASE_URL": f"http://127.0.0.1:{intake_port}", "MLP_LOG_LEVEL": "WARNING",
        "MLP_RATE_LIMIT_IP": "100000000", "MLP_RATE_LIMIT_EMAIL": "100000000",
    }
    intake = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "intake", "--port", str(intake_port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bare = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.intake_throughput:bare_app", "--port",
                             str(bare_port), "--log-level", "warning", "--no-access-log"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))

    def counts() -> tuple[int, int]:
        with engine.connect() as conn:
            return (conn.execute(text("SELECT COUNT(*) FROM intake_request")).scalar_one(),
                    conn.execute(text("SELECT COUNT(*) FROM outbox_event")).scalar_one())

    rounds: list[tuple[WrkResult, WrkResult, int, float, float]] = []
    try:
        wait_up(f"http://127.0.0.1:{intake_port}/healthz")
        wait_up(f"http://127.0.0.1:{bare_port}/docs")
        run_wrk(f"http://127.0.0.1:{bare_port}/api/v1/requests", 1, 4, "warm")
        run_wrk(f"http://127.0.0.1:{intake_port}/api/v1/requests", 1, 4, "warm")
        for i in range(args.rounds):
            bare_cpu_before = cpu_seconds(bare.pid)
            bare_result = run_wrk(f"http://127.0.0.1:{bare_port}/api/v1/requests", args.seconds, args.connections,
                                  f"b{i}")
            bare_cpu = cpu_seconds(bare.pid) - bare_cpu_before
            rows_before, _ = counts()
            cpu_before = cpu_seconds(intake.pid)
            intake_result = run_wrk(f"http://127.0.0.1:{intake_port}/api/v1/requests", args.seconds,
                                    args.connections, f"i{i}")
            cpu = cpu_seconds(intake.pid) - cpu_before
            rows_after, _ = counts()
            accepted = rows_after - rows_before
            rounds.append((bare_result, intake_result, accepted, cpu, bare_cpu))
            ratio = honest_ratio(intake_result.rate, bare_result.rate)
            bare_ms, intake_ms = bare_cpu * 1000 / max(bare_result.requests, 1), cpu * 1000 / max(accepted, 1)
            print(f"round {i + 1}: generator ceiling (bare) {bare_result.rate:7.0f} req/s, {bare_ms:.2f} ms CPU per "
                  f"request | intake {intake_result.rate:6.0f} req/s, {accepted} accepted, {intake_ms:.2f} ms CPU "
                  f"per request | ratio {'—' if ratio is None else f'{ratio:.1%}'} (CPU per request: bare / intake "
                  f"{bare_ms / intake_ms:.1%})")
        rows, outbox = counts()
    finally:
        for proc in (intake, bare):
            proc.terminate()
            proc.wait(15)
        engine.dispose()
        redis_server.stop()
    assert rows == outbox, (rows, outbox)  # one outbox row per accepted request, nothing half-stored
    for _, intake_result, accepted, _, _ in rounds:
        # wrk counts the responses it read before it stopped; requests still in flight then are stored too.
        answered = intake_result.requests - intake_result.non_2xx
        assert answered <= accepted <= answered + args.connections, (accepted, intake_result)
        assert intake_result.non_2xx == 0, intake_result  # every distinct valid request is accepted
    db = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite (WAL)"
    lines = []
    for i, (bare_result, intake_result, accepted, cpu, bare_cpu) in enumerate(rounds, start=1):
        ratio = honest_ratio(intake_result.rate, bare_result.rate)
        bare_ms, intake_ms = bare_cpu * 1000 / max(bare_result.requests, 1), cpu * 1000 / max(accepted, 1)
        lines.append(row(f"round {i}: bare FastAPI (JSON parse, 202) — the generator's ceiling", bare_result, "—",
                         f"{bare_ms:.2f}"))
        lines.append(row(f"round {i}: intake `POST /api/v1/requests`", intake_result, accepted, f"{intake_ms:.2f}"))
        shown = "not reported (intake above 1/3 of the ceiling)" if ratio is None else f"**{ratio:.1%}**"
        lines.append(f"| round {i}: **intake / bare** | {shown} | | | | | | {bare_ms / intake_ms:.1%} |")
    body = f"""
wrk (C, 1 thread, {args.connections} connections, {args.seconds:g} s per run, `--timeout 10s`) with a Lua script that
sends distinct valid company requests (`bench/wrk.py`); one uvicorn worker per server, loopback, {db}; rate limits
raised and logs at WARNING for the run (the bare endpoint logs nothing). Bare endpoint then intake, {args.rounds} round(s), after a 1 s warm-up of each.

| run | requests/s | p50 (ms) | p95 (ms) | p99 (ms) | accepted (rows) | errors | server CPU per request (ms) |
|---|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(lines)}

The bare endpoint's rate is what this generator reaches with this body on this machine: a ratio is printed only
while intake stays under a third of it. The last column is each server's own CPU per request (from /proc); on the
*intake / bare* line, bare's CPU per request over intake's, a ratio the machine's other load disturbs less than rates.
Rows checked after the run: {rows} requests, {outbox} outbox rows (warm-up included), one for one.
"""
    print(body)
    if not args.no_write:
        write_section("intake_throughput", "Intake throughput vs a bare FastAPI endpoint (wrk)", body,
                      command="python -m bench.intake_throughput " + " ".join(argv or sys.argv[1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
