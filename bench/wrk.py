"""A native load generator (Debian's wrk) with distinct request bodies, and the rule that keeps its
figures honest: a server is compared with the bare FastAPI endpoint measured by the same generator
in the same run, and no ratio is reported when the measured server gets within a third of that
ceiling (the generator, not the server, could then be what limits it).

A Python client loop tops out at a few hundred requests/s on this kind of machine, about what the
servers do, so it measured itself; wrk written in C does not."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# The body of a valid company request; %s placeholders get a unique "<thread>-<n>" per request, so no
# two requests hit the same contact (intake's per-contact limit and idempotency see distinct companies).
LUA = r"""
counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
request = function()
  counter = counter + 1
  local n = tid .. "-" .. counter
  local body = string.format(
    '{"needs":["pfmp","apprentissage"],"jobs":["Boulanger","D1102"],"naf":"10.71C",' ..
    '"siret":"73282932000074","location":{"postal_code":"69007"},"radius_km":20,' ..
    '"company_name":"Boulangerie %s","contact":{"name":"Jeanne Martin",' ..
    '"email":"bench%s.%s@boulangerie-dupont.fr","phone":"04 72 00 00 00"},' ..
    '"message":"Nous pouvons accueillir deux eleves au printemps.","places":2,"period":"mars a juin"}',
    n, PREFIX, n)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "MLP_RESULT requests=%d duration_us=%d non2xx=%d socket_errors=%d p50_us=%d p95_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""
RESULT = re.compile(r"MLP_RESULT (.*)")
CEILING_SHARE = 1 / 3


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk introuvable : `scripts/deps.sh --test` l'installe (paquet Debian wrk).")
    return path


def run_wrk(url: str, seconds: float, connections: int, prefix: str, threads: int = 1) -> WrkResult:
    """POST distinct company requests to ``url`` for ``seconds``; ``prefix`` keeps runs' contacts apart."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "requests.lua"
        script.write_text(f'PREFIX = "{prefix}"\n' + LUA, encoding="utf-8")
        out = subprocess.run([wrk_path(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
                              "--timeout", "10s", "-s", str(script), url],
                             capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    match = RESULT.search(out)
    if match is None:
        raise RuntimeError(f"wrk output without result line:\n{out}")
    fields = dict(item.split("=") for item in match.group(1).split())
    return WrkResult(
        requests=int(fields["requests"]), seconds=int(fields["duration_us"]) / 1e6,
        non_2xx=int(fields["non2xx"]), socket_errors=int(fields["socket_errors"]),
        p50_ms=int(fields["p50_us"]) / 1000, p95_ms=int(fields["p95_us"]) / 1000, p99_ms=int(fields["p99_us"]) / 1000,
    )


def honest_ratio(measured: float, ceiling: float) -> float | None:
    """measured / ceiling, or None when ``measured`` is close enough to the ceiling to be capped by it."""
    if ceiling <= 0 or measured > CEILING_SHARE * ceiling:
        return None
    return measured / ceiling
