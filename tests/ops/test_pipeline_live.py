"""The whole system as real processes: metrics move by the right amounts, the stream gauges show a
stopped consumer, and one request's correlation_id can be followed through every service's logs.

Real parts only: four `monlyceepro serve` processes, a private redis-server, SQLite databases
with the real catalog, an SMTP sink on loopback.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from shared.contracts.events import Streams
from tests.support.eventually import eventually
from tests.support.live import ServiceProcess
from tests.support.system import System, catalog_template

pytestmark = [pytest.mark.slow]

SUBMITTED = Streams.REQUEST_SUBMITTED


def request_body(n: int) -> dict:
    return {
        "needs": ["pfmp"],
        "jobs": ["Boulanger"],
        "location": {"postal_code": "69007"},
        "radius_km": 20,
        "company_name": f"Boulangerie Ops {n}",
        "contact": {"name": "Jeanne Martin", "email": f"ops.{n}.{uuid.uuid4().hex[:8]}@boulangerie-ops.fr"},
        "message": "Nous pouvons accueillir deux élèves au printemps.",
        "places": 2,
        "period": "mars à juin 2027",
    }


class Scrape:
    """The samples of one /metrics page."""

    def __init__(self, url: str) -> None:
        response = httpx.get(url + "/metrics", timeout=10)
        assert response.status_code == 200
        self.samples = [s for family in text_string_to_metric_families(response.text) for s in family.samples]

    def value(self, name: str, **labels: str) -> float:
        return sum(s.value for s in self.samples
                   if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))

    def has(self, name: str, **labels: str) -> bool:
        return any(s.name == name and all(s.labels.get(k) == v for k, v in labels.items()) for s in self.samples)


@pytest.fixture(scope="module")
def system(tmp_path_factory, redis_server):
    """One system for the module (started once: service start-up dominates the run time)."""
    redis_server.flush()
    tmp_path = tmp_path_factory.mktemp("ops-system")
    catalog_db = catalog_template(tmp_path_factory.getbasetemp() / "ops-catalog")
    # Entries left pending come back after 1 s.
    running = System(tmp_path, redis_server.url, catalog_db=catalog_db,
                     extra_env={"MLP_CLAIM_IDLE_MS": "1000", "MLP_LOG_LEVEL": "INFO"})
    running.sink.start()
    try:
        # Start the four processes together, then wait for each (the matcher retries the
        # catalog snapshot until the catalog answers).
        for name in ("catalog", "intake", "matcher", "notifier"):
            proc = ServiceProcess(name, running.env, log_dir=running.logs).start(wait_ready=False)
            running.processes[name] = [proc]
        for procs in running.processes.values():
            procs[0].wait_ready(timeout=120)
        yield running
    finally:
        running.stop()


def scrape(system: System, service: str) -> Scrape:
    return Scrape(system.url(service))


def test_metrics_follow_the_pipeline_and_show_a_stopped_consumer(system: System):
    before = {name: scrape(system, name) for name in ("intake", "matcher", "notifier")}

    # Two valid requests and one invalid one go through the whole pipeline.
    for n in range(2):
        assert system.submit(request_body(n)).status_code == 202
    bad = request_body(9)
    bad["location"] = {"postal_code": "00000"}
    assert system.submit(bad).status_code == 422

    eventually(lambda: scrape(system, "matcher").value("mlp_requests_routed_total")
               - before["matcher"].value("mlp_requests_routed_total") >= 2, timeout=60, what="2 routed")
    recipients = (scrape(system, "matcher").value("mlp_routing_recipients_sum")
                  - before["matcher"].value("mlp_routing_recipients_sum"))
    assert recipients >= 2  # at least one RBE (or the académie's fallback contact) per request

    def emails_settled() -> bool:
        # The sink records a message before the notifier counts it: equal and stable = all counted.
        seen = len(system.sink.snapshot())
        counted = scrape(system, "notifier").value("mlp_emails_sent_total")
        return seen >= recipients + 2 and counted == seen == len(system.sink.snapshot())

    # One copy per participant: every recipient, plus the company's acknowledgement.
    eventually(emails_settled, timeout=60, what="emails sent to every participant and counted")

    intake, matcher, notifier = (scrape(system, n) for n in ("intake", "matcher", "notifier"))
    delta = {
        "received": intake.value("mlp_requests_received_total", channel="api")
        - before["intake"].value("mlp_requests_received_total", channel="api"),
        "rejected": intake.value("mlp_requests_rejected_total") - before["intake"].value("mlp_requests_rejected_total"),
        "published": intake.value("mlp_outbox_published_total", service="intake", stream=SUBMITTED)
        - before["intake"].value("mlp_outbox_published_total", service="intake", stream=SUBMITTED),
        "consumed": matcher.value("mlp_events_consumed_total", group="matcher", stream=SUBMITTED, outcome="processed")
        - before["matcher"].value("mlp_events_consumed_total", group="matcher", stream=SUBMITTED,
                                  outcome="processed"),
        "routed": matcher.value("mlp_requests_routed_total") - before["matcher"].value("mlp_requests_routed_total"),
        "recipients_observed": matcher.value("mlp_routing_recipients_count")
        - before["matcher"].value("mlp_routing_recipients_count"),
        "routing_delay_observed": matcher.value("mlp_routing_delay_seconds_count")
        - before["matcher"].value("mlp_routing_delay_seconds_count"),
    }
    assert delta == {"received": 2, "rejected": 1, "published": 2, "consumed": 2, "routed": 2,
                     "recipients_observed": 2, "routing_delay_observed": 2}
    assert notifier.value("mlp_emails_sent_total") >= recipients + 2
    assert notifier.value("mlp_emails_failed_total") == 0
    assert notifier.value("mlp_assignments") >= 2  # at least one assignment per routed request
    assert intake.value("mlp_http_requests_total", route="/api/v1/requests", method="POST", status="202") == 2
    assert intake.value("mlp_http_requests_total", route="/api/v1/requests", method="POST", status="422") == 1
    for page in (intake, matcher, notifier):  # the pipeline is drained
        assert page.value("mlp_stream_group_lag", stream=SUBMITTED, group="matcher") == 0
        assert page.value("mlp_stream_group_pending", stream=SUBMITTED, group="matcher") == 0
    assert intake.value("mlp_outbox_backlog", service="intake") == 0
    assert intake.value("mlp_dead_letter_stream_length", group="matcher") == 0

    # The matcher stops: new requests wait in the stream, its group's lag shows them.
    system.process("matcher").stop()
    for n in range(3):
        assert system.submit(request_body(10 + n)).status_code == 202
    eventually(lambda: scrape(system, "intake").value("mlp_outbox_backlog", service="intake") == 0,
               timeout=30, what="outbox drained")
    # A consumer that read one entry and died before acknowledging it: pending 1.
    probe = redis.Redis.from_url(system.env["MLP_REDIS_URL"])
    read = probe.xreadgroup("matcher", "matcher-crashed", {SUBMITTED: ">"}, count=1)
    assert len(read[0][1]) == 1
    stopped = scrape(system, "intake")
    assert stopped.value("mlp_stream_group_lag", stream=SUBMITTED, group="matcher") == 2
    assert stopped.value("mlp_stream_group_pending", stream=SUBMITTED, group="matcher") == 1
    assert stopped.has("mlp_stream_group_oldest_pending_age_seconds", stream=SUBMITTED, group="matcher")
    assert stopped.value("mlp_stream_group_oldest_pending_age_seconds", stream=SUBMITTED, group="matcher") >= 0
    # Other groups are not affected.
    assert stopped.value("mlp_stream_group_lag", stream=Streams.REQUEST_ROUTED, group="notifier") == 0

    # The matcher comes back: it reads the two waiting entries and claims the abandoned one.
    system.process("matcher").start()
    eventually(lambda: scrape(system, "matcher").value("mlp_requests_routed_total") == 3,
               timeout=60, what="3 routed after restart")
    eventually(lambda: scrape(system, "intake").value("mlp_stream_group_pending", stream=SUBMITTED,
                                                       group="matcher") == 0, timeout=30, what="pending 0")
    resumed = scrape(system, "intake")
    assert resumed.value("mlp_stream_group_lag", stream=SUBMITTED, group="matcher") == 0
    assert resumed.value("mlp_stream_group_oldest_pending_age_seconds", stream=SUBMITTED, group="matcher") == 0
    assert resumed.value("mlp_dead_letter_stream_length", group="matcher") == 0
    probe.close()


def _lines_with(system: System, service: str, correlation_id: str) -> list[dict]:
    found = []
    for line in system.log_lines(service):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("correlation_id") == correlation_id:
            found.append(record)
    return found


def test_one_correlation_id_runs_through_intake_matcher_and_notifier_logs(system: System):
    matcher = system.process("matcher")
    if matcher.proc is None or matcher.proc.poll() is not None:  # left stopped by a failed test above
        matcher.start()
    already_sent = len(system.sink.snapshot())
    correlation_id = "opstrace" + uuid.uuid4().hex
    response = system.submit(request_body(50), **{"X-Request-ID": correlation_id})
    assert response.status_code == 202
    assert response.headers["X-Request-ID"] == correlation_id
    # At least the lead RBE's copy and the company's acknowledgement leave.
    eventually(lambda: len(system.sink.snapshot()) >= already_sent + 2, timeout=60, what="emails sent")

    # Every service writes JSON lines under the request's correlation id: intake for the HTTP
    # request, its acceptance (written on a database thread) and the routed event it consumes, the matcher for the submitted event and its
    # decision, the notifier for the routed event and every email it sends.
    expected = {
        "intake": {("http_request", None), ("request_accepted", None), ("event_handled", Streams.REQUEST_ROUTED)},
        "matcher": {("event_handled", SUBMITTED), ("request_handled", None)},
        "notifier": {("event_handled", Streams.REQUEST_ROUTED), ("email_sent", None)},
    }

    def events(service: str) -> set[tuple[str, str | None]]:
        found = set()
        for record in _lines_with(system, service, correlation_id):
            found.add((record["event"], None))
            found.add((record["event"], record.get("stream")))
        return found

    eventually(lambda: all(expected[s] <= events(s) for s in expected), timeout=30,
               what="the correlation id in the logs of intake, matcher and notifier")
    for service in expected:
        records = _lines_with(system, service, correlation_id)
        assert all(r["service"] == service for r in records)
        assert all("@" not in json.dumps(r) or "***@" in json.dumps(r) for r in records)  # addresses masked
    accepted = [r for r in _lines_with(system, "intake", correlation_id) if r["event"] == "http_request"]
    assert {(r["method"], r["route"], r["status"]) for r in accepted} == {("POST", "/api/v1/requests", 202)}
    routed = [r for r in _lines_with(system, "matcher", correlation_id) if r["event"] == "request_handled"]
    assert routed[0]["outcome"] in {"routed", "unroutable"}
