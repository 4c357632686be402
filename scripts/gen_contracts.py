"""Writes the committed contracts of MonLycéePro from the code, or checks they are up to date.

    .venv/bin/python scripts/gen_contracts.py           # (re)write docs/contracts/
    .venv/bin/python scripts/gen_contracts.py --check   # exit 1 when a committed file differs

* ``docs/contracts/openapi-<service>.json``: ``services.<service>.app:create_app().openapi()``.
* ``docs/contracts/asyncapi.json``: the AsyncAPI 3.0 document of the Redis streams, built by
  faststream. The consumer groups and their subscriptions are read from each service's broker
  (``create_app().state.runtime.broker.subscribers``); the payload of every stream is the event
  envelope ``{"event_type", "data"}`` whose ``data`` schema is the event class of
  ``shared/contracts/events.py``; producers are the services named in ``PRODUCERS`` (checked against the
  code by tests/ops).

Each service is loaded in its own subprocess (its Prometheus metrics live in a process-wide
registry) with a throw-away var dir and SQLite databases, and a Redis URL nothing listens on:
creating an app must not need Redis (it connects in the lifespan only). A service whose
``services/<service>/app.py`` does not exist yet is skipped with a message.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.contracts.events import EVENT_TYPES, Event, Streams  # noqa: E402
from shared.platform.settings import SERVICES  # noqa: E402

OUT = ROOT / "docs" / "contracts"
PUBLIC_REDIS_URL = "redis://redis:6379/0"  # as in docker-compose.yml; only shown in the document
VERSION = "1.0.0"

# Which service writes each stream (through its outbox). Consumers are discovered from the code.
PRODUCERS: dict[str, str] = {
    Streams.REQUEST_SUBMITTED: "intake",
    Streams.REQUEST_ROUTED: "matcher",
    Streams.REQUEST_FOLLOWUP: "matcher",
    Streams.REQUEST_ERASED: "intake",
    Streams.ASSIGNMENT_CHANGED: "notifier",
    Streams.THREAD_MESSAGE: "notifier",
    Streams.CATALOG_CHANGED: "catalog",
    Streams.OUTCOME_RECORDED: "notifier",
}


def event_class_of(stream: str) -> type[Event]:
    for cls in EVENT_TYPES.values():
        if cls.stream == stream:
            return cls
    raise KeyError(stream)


# ------------------------------------------------------------------ one service (in a subprocess)
def describe_service(service: str) -> dict[str, Any]:
    """Runs inside the subprocess: the service's OpenAPI and the stream subscriptions of its broker."""
    from importlib import import_module

    app = import_module(f"services.{service}.app").create_app()
    subscriptions = []
    for sub in app.state.runtime.broker.subscribers:
        stream_sub = getattr(sub, "stream_sub", None)
        if stream_sub is None:
            continue
        subscriptions.append({
            "stream": stream_sub.name,
            "group": stream_sub.group,
            "consumer": stream_sub.consumer,
            "claims_after_ms": stream_sub.min_idle_time,
        })
    subscriptions.sort(key=lambda s: (s["stream"], s["group"] or "", s["consumer"] or ""))
    return {"openapi": app.openapi(), "subscriptions": subscriptions}


def _service_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLP_")}
    env.update({
        "MLP_ENV": "test",
        "MLP_VAR_DIR": str(tmp / "var"),
        "MLP_DATABASE_URL": f"sqlite:///{tmp}/{{service}}.db",
        "MLP_REDIS_URL": "redis://127.0.0.1:1/0",  # nothing listens there: creation must not connect
        "MLP_INSTANCE": "contract",  # consumer names are <group>-<instance>: stable in the document
        "MLP_LOG_LEVEL": "ERROR",
        "MLP_RELAY_ENABLED": "false",
        "PYTHONPATH": str(ROOT),
    })
    return env


def load_service(service: str, tmp: Path) -> dict[str, Any] | None:
    if not (ROOT / "services" / service / "app.py").exists():
        print(f"[contrats] {service} : services/{service}/app.py n'existe pas encore, ignoré", file=sys.stderr)
        return None
    out = tmp / f"{service}.json"
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--describe", service, "--describe-out", str(out)],
        cwd=ROOT, env=_service_env(tmp / service), capture_output=True, text=True, timeout=180,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"création de l'application {service} impossible :\n{proc.stderr[-4000:]}")
    return json.loads(out.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------- AsyncAPI document
def _envelope(cls: type[Event]) -> type:
    from pydantic import create_model

    return create_model(
        f"{cls.__name__}Envelope",
        __doc__=f"{(cls.__doc__ or '').strip()} (stream entry: event_type + data)",
        event_type=(Literal[cls.event_type], ...),  # type: ignore[valid-type]
        data=(cls, ...),
    )


def _dead_letter_model() -> type:
    from pydantic import BaseModel

    class DeadLetterEntry(BaseModel):
        """An entry a consumer group gave up on (written by shared/platform/consumer.py), kept for inspection and replay."""

        stream: str
        group: str
        entry_id: str
        deliveries: str
        reason: Literal["max_deliveries", "poison"]
        error: str
        payload: str
        dead_lettered_at: str

    return DeadLetterEntry


def _typed_handler(payload: type) -> Any:
    """A no-op handler whose body annotation is the real model (faststream reads it for the schema)."""

    async def handler(body) -> None:  # pragma: no cover - never called
        return None

    handler.__annotations__ = {"body": payload, "return": None}
    return handler


def build_asyncapi(subscriptions: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    from faststream.redis import RedisBroker, StreamSub
    from faststream.specification import AsyncAPI

    broker = RedisBroker(PUBLIC_REDIS_URL, logger=None)
    for stream in Streams.ALL:
        cls = event_class_of(stream)
        broker.publisher(
            stream=stream, schema=_envelope(cls), title=f"{stream}:publish",
            description=f"Publié par {PRODUCERS[stream]} via sa boîte d'envoi (outbox). {(cls.__doc__ or '').strip()}",
        )
    groups: set[str] = set()
    for service, subs in sorted(subscriptions.items()):
        for sub in subs:
            stream = sub["stream"]
            if stream not in Streams.ALL:
                continue
            envelope = _envelope(event_class_of(stream))
            groups.add(sub["group"])
            claimer = bool(sub["claims_after_ms"])
            role = (f"reprend les entrées en attente depuis plus de {sub['claims_after_ms']} ms"
                    if claimer else "lit les nouvelles entrées")
            consumer = StreamSub(stream, group=sub["group"], consumer=sub["consumer"],
                                 min_idle_time=sub["claims_after_ms"])

            broker.subscriber(
                stream=consumer, title=f"{sub['group']}:{stream}:{sub['consumer']}",
                description=f"Service {service}, groupe « {sub['group']} » : {role}. "
                            f"Idempotent sur data.event_id ; lettres mortes dans {Streams.dead_letter(sub['group'])}.",
            )(_typed_handler(envelope))
    dead = _dead_letter_model()
    for group in sorted(groups):
        broker.publisher(stream=Streams.dead_letter(group), schema=dead, title=f"{Streams.dead_letter(group)}:publish",
                         description=f"Entrées abandonnées par le groupe {group} (poison ou trop de livraisons).")
    spec = AsyncAPI(
        broker, title="MonLycéePro — flux Redis", version=VERSION,
        description="Événements échangés entre intake, catalog, matcher et notifier (Redis Streams, "
                    "un groupe de consommateurs par service). Généré par scripts/gen_contracts.py.",
    ).to_specification()
    return json.loads(spec.to_json())


# ----------------------------------------------------------------------------------------- main
def render() -> dict[str, str]:
    files: dict[str, str] = {}
    subscriptions: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="mlp-contracts-") as tmp:
        # One subprocess per service, all at once (each spends its time importing and creating tables).
        with ThreadPoolExecutor(max_workers=len(SERVICES)) as pool:
            loaded = list(pool.map(lambda service: load_service(service, Path(tmp)), SERVICES))
        for service, described in zip(SERVICES, loaded, strict=True):
            if described is None:
                continue
            files[f"openapi-{service}.json"] = _dump(described["openapi"])
            subscriptions[service] = described["subscriptions"]
    # faststream orders channels by hash: sort keys so the file is stable from run to run.
    files["asyncapi.json"] = json.dumps(build_asyncapi(subscriptions), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return files


def _dump(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Contrats OpenAPI/AsyncAPI générés depuis le code.")
    parser.add_argument("--check", action="store_true", help="échoue si les fichiers commités diffèrent")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--describe", help=argparse.SUPPRESS)
    parser.add_argument("--describe-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.describe:
        args.describe_out.write_text(json.dumps(describe_service(args.describe)), encoding="utf-8")
        return 0
    files = render()
    if args.check:
        stale = [name for name, text in files.items()
                 if not (args.out / name).exists() or (args.out / name).read_text(encoding="utf-8") != text]
        if stale:
            print("Contrats à régénérer (python scripts/gen_contracts.py) : " + ", ".join(sorted(stale)),
                  file=sys.stderr)
            return 1
        print(f"Contrats à jour : {', '.join(sorted(files))}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"Écrit dans {args.out} : {', '.join(sorted(files))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
