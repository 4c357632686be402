"""Catalog search latency on the real data: in-process (index) and over HTTP (real uvicorn process).

    .venv/bin/python -m bench.catalog_search [--rounds 200]

Loads data/ into a temporary SQLite catalog, then times job, place and free-text searches and
writes p50/p95 to docs/benchmarks.md (section ``catalog_search``).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlmodel import Session

from bench.report import percentile, write_section
from bench.routing import typed_jobs
from services.catalog.service.queries import search_lycees
from services.catalog.service.readmodel import load_read_model
from services.catalog.service.search import SearchIndex
from shared.platform.db import make_engine
from shared.reference.geo import load_communes
from tests.support.catalog_data import load_real_catalog

JOBS = ["boulanger", "électricien", "aide-soignant", "cuisinier", "mécanicien automobile", "vendeur", "D1102",
        "F1602", "plombier", "maçon", "coiffeur", "comptable", "menuisier", "logistique", "soudeur"]
PLACES = ["69007", "35000", "75011", "13001", "31000", "59000", "33000", "67000", "44000", "97400", "21000", "63000"]
TYPED = typed_jobs()
TEXTS = ["hôtelier", "Rabelais", "maintenance", "commerce", "agricole", "bâtiment", "numérique"]


def scenarios(rng: random.Random, rounds: int) -> dict[str, list[dict]]:
    return {
        "métier + lieu (30 km)": [{"metier": rng.choice(JOBS), "lieu": rng.choice(PLACES)} for _ in range(rounds)],
        "métier seul (France entière)": [{"metier": rng.choice(JOBS)} for _ in range(rounds)],
        "lieu seul (50 km)": [{"lieu": rng.choice(PLACES), "rayon_km": 50} for _ in range(rounds)],
        "texte libre": [{"q": rng.choice(TEXTS)} for _ in range(rounds)],
        "autocomplétion métier": [{"_jobs": _prefix(rng, rng.choice(TYPED))} for _ in range(rounds)],
        "compréhension d'un métier (à froid)": [{"_understand": rng.choice(TYPED)} for _ in range(rounds)],
    }


def _prefix(rng: random.Random, text: str) -> str:
    """What a company has typed so far when the autocomplete fires (3 letters or more)."""
    return text[: rng.randint(min(3, len(text)), len(text))]


def in_process(index: SearchIndex, params: dict) -> None:
    if "_understand" in params:
        index.resolver.understand.cache_clear()
        index.understand_job(params["_understand"])
        return
    if "_jobs" in params:
        index.suggest_jobs(params["_jobs"], 10)
        return
    search_lycees(index, load_communes(), job=params.get("metier"), text=params.get("q"), place=params.get("lieu"),
                  radius_km=params.get("rayon_km"), per_page=20)


def http(client: httpx.Client, params: dict) -> None:
    if "_understand" in params:
        response = client.get("/api/v1/metiers/comprendre", params={"q": params["_understand"]})
    elif "_jobs" in params:
        response = client.get("/api/v1/metiers", params={"q": params["_jobs"]})
    else:
        response = client.get("/api/v1/lycees", params=params)
    response.raise_for_status()


def timed(fn, items) -> list[float]:
    out = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="print the figures, leave docs/benchmarks.md alone")
    parser.add_argument("--smoke", action="store_true", help="a few rounds, nothing written (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.no_write = 5, True
    rng = random.Random(7)
    tmp = Path(tempfile.mkdtemp(prefix="mlp-bench-catalog-"))
    url = f"sqlite:///{tmp / 'catalog.db'}"
    started = time.perf_counter()
    load_real_catalog(url)
    load_s = time.perf_counter() - started
    engine = make_engine(url)
    started = time.perf_counter()
    with Session(engine) as session:
        index = SearchIndex(load_read_model(session, "repli@example.fr"))
    index_s = time.perf_counter() - started
    load_communes()
    plan = scenarios(rng, args.rounds)
    rows = []
    for name, items in plan.items():
        timed(lambda p: in_process(index, p), items[:10])  # warm-up
        ms = timed(lambda p: in_process(index, p), items)
        rows.append((name, "index", ms))

    from tests.support.servers import free_port

    port = free_port()
    env = {**os.environ, "MLP_ENV": "test", "MLP_DATABASE_URL": url, "MLP_VAR_DIR": str(tmp / "var"),
           "MLP_RELAY_ENABLED": "false", "MLP_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "catalog", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if client.get("/api/v1/metiers", params={"q": "boul"}).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("le service catalogue n'a pas démarré")
                time.sleep(0.2)
            for name, items in plan.items():
                timed(lambda p: http(client, p), items[:10])
                rows.append((name, "HTTP", timed(lambda p: http(client, p), items)))
            started = time.perf_counter()
            snapshot_bytes = len(client.get("/api/v1/snapshot").content)
            snapshot_ms = (time.perf_counter() - started) * 1000
    finally:
        proc.terminate()
        proc.wait(15)

    lines = ["| recherche | via | requêtes | p50 (ms) | p95 (ms) | max (ms) |", "|---|---|---:|---:|---:|---:|"]
    for name, via, ms in rows:
        lines.append(f"| {name} | {via} | {len(ms)} | {percentile(ms, 50):.1f} | {percentile(ms, 95):.1f} | {max(ms):.1f} |")
    body = "\n".join(lines) + (
        f"\n\nReal data: 4 559 lycées, 38 869 offers, 14 069 job titles. Load into SQLite: {load_s:.1f} s; "
        f"index build: {index_s:.2f} s; first `/api/v1/snapshot` (built then cached): {snapshot_ms:.0f} ms, "
        f"{snapshot_bytes / 1e6:.1f} MB. HTTP figures include uvicorn + JSON on loopback, one client, sequential. « À froid » : the resolver's cache "
        "is emptied before each text in-process; over HTTP a text typed again is served from that cache.\n"
    )
    print(body)
    if args.no_write:
        return 0
    write_section("catalog_search", "Catalog search (in-memory index, real data)", body,
                  command=f".venv/bin/python -m bench.catalog_search --rounds {args.rounds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
