"""``monlyceepro serve-all``: the services of one machine as forks of a process that imported their
common stack once (what ``monlyceepro up`` runs).

Why: each service imports the same ~1,250 modules (FastAPI, SQLAlchemy, pydantic, faststream, redis,
httpx, structlog…) before it holds any data: ~95 MiB per process, the largest part of the system's memory
at rest (issue 18). Imported once here, then forked, those pages are shared by the four services until
one of them writes to them, and the services start sooner (one import instead of four). ``bench.memory``
measures both layouts in one run (docs/benchmarks.md: 394 against 479–488 MiB of PSS at rest, every
service ready after ~6 s against 7–11 s); PSS is the measure of memory shared between processes.

Each fork then runs exactly what ``monlyceepro serve NAME`` runs (``services.cli.serve``): the services'
own modules are imported after the fork, by each service alone, so no service holds another's code.
Production runs one container per service (docker-compose.yml) and does not use this.

Fork safety: nothing here starts a thread, an event loop, a connection or reads the settings before
the forks (checked: a thread alive at fork time stops the launch); ``random`` reseeds itself in a child,
and ``shared.platform.ids`` forgets its pre-drawn ids (``os.register_at_fork``).
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import importlib
import os
import signal
import sys
import threading
import time
import traceback

# The stack every service imports before it builds its app (measured with bench.memory's « imports
# only »): third-party libraries and the project's platform code, nothing of a service itself.
COMMON_STACK = (
    "uvicorn", "uvicorn.lifespan.on", "uvicorn.loops.auto", "uvicorn.protocols.http.auto",
    "fastapi", "fastapi.responses", "pydantic", "sqlalchemy", "sqlalchemy.orm", "sqlmodel", "redis.asyncio",
    "faststream.redis", "httpx", "structlog", "prometheus_client", "jinja2", "tenacity",
    "shared.platform.service", "shared.platform.web", "shared.platform.http", "shared.contracts.events",
    "shared.reference.geo", "shared.reference.jobs",  # the job vocabulary's code: the catalog's and the matcher's
)
STOP_GRACE_S = 10.0  # after SIGTERM, how long a service may take to stop before SIGKILL
_PR_SET_NAME, _PR_SET_PDEATHSIG = 15, 1


def parse_services(specs: list[str]) -> list[tuple[str, int]]:
    """``NAME=PORT`` arguments, in start order."""
    from shared.platform.settings import SERVICES

    out: list[tuple[str, int]] = []
    for spec in specs:
        name, _, port = spec.partition("=")
        if name not in SERVICES or not (port.isascii() and port.isdigit()):
            raise SystemExit(f"serve-all : « {spec} » n'est pas de la forme SERVICE=PORT "
                             f"(services : {', '.join(SERVICES)})")
        out.append((name, int(port)))
    return out


def preload() -> int:
    """Import the common stack and move it out of the collector's reach (a full collection would
    write to every object's header, and so copy every shared page into each fork). Returns the
    number of modules imported."""
    for module in COMMON_STACK:
        importlib.import_module(module)
    gc.collect()
    gc.freeze()
    return len(sys.modules)


def _prctl(option: int, value: object) -> None:
    """Linux only; elsewhere nothing (the fork still runs, with the launcher's name)."""
    name = ctypes.util.find_library("c")
    if name:
        try:
            ctypes.CDLL(name).prctl(option, value, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def _run_child(name: str, port: int, launcher: int) -> None:
    """In the fork: become ``monlyceepro serve NAME`` and never return."""
    code = 1
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        _prctl(_PR_SET_NAME, f"mlp-{name}".encode()[:15])  # what ps and top show
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))  # the launcher killed: the service stops too
        if os.getppid() != launcher:  # it died before that request: nobody would stop this service
            return
        from services.cli import serve

        code = serve([name, "--port", str(port)])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve_all(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="monlyceepro serve-all",
        description="Plusieurs services dans des processus issus d'un même lanceur (ce que lance `monlyceepro up`).")
    parser.add_argument("services", nargs="+", metavar="SERVICE=PORT")
    args = parser.parse_args(argv)
    wanted = parse_services(args.services)
    preload()
    if threading.active_count() != 1:  # a library started a thread at import: forking it is unsafe
        print("serve-all : un fil d'exécution tourne avant les forks ; lancez les services avec `monlyceepro serve`.",
              file=sys.stderr)
        return 1
    # Signals wait until every fork exists and the handlers are in place: a SIGTERM in between would
    # otherwise kill the launcher and leave the services it already started behind.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    children: list[str] = []
    launcher = os.getpid()
    for name, port in wanted:
        pid = os.fork()
        if pid == 0:
            _run_child(name, port, launcher)
        children.append(f"{pid}={name}")
    # The launcher then replaces itself with a small watcher (same pid, so the services stay its
    # children; the blocked signals stay blocked across exec). Its imported stack would otherwise stay
    # resident for nothing: each page the four services have copied becomes the launcher's alone.
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-S", "-c", _WATCH, _ROOT, *children])
    return 1  # not reached


_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_WATCH = "import sys; sys.path.insert(0, sys.argv[1]); from services.launcher import watch; sys.exit(watch(sys.argv[2:]))"


def watch(specs: list[str]) -> int:
    """The services' parent after the launch (``PID=NAME`` arguments): waits for them; when one stops, or
    on SIGTERM/SIGINT, stops the others. Exit code: 0 after a requested stop, else the first stopped
    service's code."""
    return _Watcher({int(pid): name for pid, _, name in (spec.partition("=") for spec in specs)}).run()


class _Watcher:
    def __init__(self, children: dict[int, str]) -> None:
        self.children = children
        self.stopping_since: float | None = None
        self.code = 0

    def stop_all(self, code: int) -> None:
        if self.stopping_since is None:
            self.stopping_since, self.code = time.monotonic(), code
        for pid in self.children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop_all(0))
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
        while self.children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                if self.stopping_since is not None and time.monotonic() - self.stopping_since > STOP_GRACE_S:
                    for left in self.children:
                        os.kill(left, signal.SIGKILL)
                time.sleep(0.2)
                continue
            name = self.children.pop(pid, None)
            if name is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            if self.stopping_since is None:
                print(f"serve-all : le service {name} s'est arrêté (code {code}) : arrêt des autres.",
                      file=sys.stderr, flush=True)
                self.stop_all(code if code >= 0 else 128 - code)  # killed by signal N: 128 + N, as a shell says
        return self.code
