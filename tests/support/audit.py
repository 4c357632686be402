"""What the end-to-end, chaos and fuzz suites read of a running `System` (streams, databases,
metrics, threads of mail) and the "exactly once" audit of a whole run."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import httpx
import redis as redis_sync
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from shared.contracts.events import Streams
from tests.support.smtp import Received


def stream_bodies(r: redis_sync.Redis, stream: str) -> list[dict]:
    """The events of a stream, as dicts (faststream frames the JSON after a binary header)."""
    out = []
    for _, fields in r.xrange(stream):
        raw = fields[b"__data__"]
        out.append(json.loads(raw[raw.index(b'{"event_type"'):])["data"])
    return out


def query(db: Path | str, sql: str, **params) -> list[tuple]:
    url = db if isinstance(db, str) else f"sqlite:///{db}"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    except Exception:
        return []  # tables not created yet
    finally:
        engine.dispose()


def metric(url: str, name: str, **labels: str) -> float:
    response = httpx.get(url + "/metrics", timeout=10)
    response.raise_for_status()
    return sum(s.value for fam in text_string_to_metric_families(response.text) for s in fam.samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def thread_root(msg: EmailMessage) -> str:
    """The first Message-ID of the thread a message belongs to (References root, else its own id)."""
    refs = str(msg.get("References") or "").split()
    return refs[0] if refs else str(msg["Message-ID"]).strip()


def dead_letters(r: redis_sync.Redis) -> dict[str, int]:
    out = {}
    for group in ("matcher", "notifier", "intake"):
        name = Streams.dead_letter(group)
        if r.exists(name):
            out[name] = r.xlen(name)
    return out


@dataclass
class Audit:
    """What a run delivered, checked against what it should have delivered."""

    requests: int = 0
    routed: int = 0
    messages: int = 0
    republished: int = 0  # stream entries carrying an event_id already on the stream
    problems: list[str] = field(default_factory=list)

    def check(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)


def service_db(tmp_path: Path, service: str, database_url: str | None = None) -> Path | str:
    """Where a test system keeps a service's database: ``tmp_path/<service>.db`` (SQLite, the
    default of ``System``), or ``database_url`` with ``{service}`` replaced (PostgreSQL)."""
    return database_url.replace("{service}", service) if database_url else tmp_path / f"{service}.db"


def audit_run(tmp_path: Path, r: redis_sync.Redis, sink_messages: list[Received], request_ids: set[str],
              database_url: str | None = None) -> Audit:
    """Every request routed exactly once (matcher DB and routed stream), one thread per request,
    every participant of every thread got exactly one initial message, no duplicate Message-ID.
    The databases are the SQLite files in ``tmp_path``, or those of ``database_url`` (PostgreSQL)."""
    audit = Audit(requests=len(request_ids))
    matcher_db, notifier_db = (service_db(tmp_path, s, database_url) for s in ("matcher", "notifier"))
    decisions = Counter(row[0] for row in query(matcher_db,
                                                "SELECT request_id FROM matcher_routing_decision"))
    audit.check(set(decisions) == request_ids, f"decisions for {len(decisions)} of {len(request_ids)} requests")
    audit.check(all(c == 1 for c in decisions.values()),
                f"requests routed twice in the matcher DB: {[k for k, c in decisions.items() if c > 1]}")
    assignments = query(matcher_db,
                        "SELECT request_id, rbe_id, count(*) FROM matcher_assignment GROUP BY request_id, rbe_id")
    audit.check(all(row[2] == 1 for row in assignments), "one RBE assigned twice to a request")
    routed_all = [b for b in stream_bodies(r, Streams.REQUEST_ROUTED) if b.get("kind", "initial") == "initial"]
    # A re-published entry (same event_id) is harmless: consumers skip it. A second routing is not.
    routed = list({b["event_id"]: b for b in routed_all}.values())
    audit.republished = len(routed_all) - len(routed)
    routed_count = Counter(b["request_id"] for b in routed)
    audit.routed = len(routed_count)
    audit.check(set(routed_count) == request_ids, f"routed stream covers {len(routed_count)} requests")
    audit.check(all(c == 1 for c in routed_count.values()),
                f"requests routed twice on the stream: {[k for k, c in routed_count.items() if c > 1]}")
    # Who should have received the first message of each thread: lead, copies, the company.
    expected: dict[str, Counter] = {}
    for body in routed:
        people = [rec["rbe_email"].lower() for rec in body["recipients"]]
        if body.get("unroutable") or not people:
            people = [(body.get("fallback_email") or "").lower()]
        expected[body["request_id"]] = Counter([*people, body["contact"]["email"].lower()])
    threads = dict(query(notifier_db, "SELECT root_message_id, request_id FROM notifier_thread"))
    audit.check(set(threads.values()) == request_ids, f"{len(threads)} notifier threads for {len(request_ids)}")
    got: dict[str, Counter] = defaultdict(Counter)
    ids = Counter()
    for received in sink_messages:
        msg = received.msg
        ids[str(msg["Message-ID"]).strip()] += 1
        request_id = threads.get(thread_root(msg))
        if request_id is None:
            audit.problems.append(f"message outside any thread: {msg['Subject']}")
            continue
        for rcpt in received.rcpt_tos:
            got[request_id][rcpt.lower()] += 1
    audit.messages = sum(ids.values())
    audit.check(all(c == 1 for c in ids.values()), f"duplicate Message-IDs: {[k for k, c in ids.items() if c > 1]}")
    for request_id, want in expected.items():
        audit.check(got.get(request_id) == want,
                    f"request {request_id}: expected {dict(want)}, mailbox has {dict(got.get(request_id, {}))}")
    audit.check(dead_letters(r) == {}, f"dead letters: {dead_letters(r)}")
    return audit
