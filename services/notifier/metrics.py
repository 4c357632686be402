"""Business metrics of the notifier (prefix ``mlp_``, bounded labels only)."""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine

EMAILS_SENT = Counter("mlp_emails_sent_total", "Email copies accepted by the SMTP relay", ["kind"])
EMAILS_FAILED = Counter(
    "mlp_emails_failed_total", "Email copies given up after the maximum number of attempts (dead)", ["kind"]
)
EMAIL_SEND_ERRORS = Counter("mlp_email_send_errors_total", "Failed SMTP send attempts (will be retried)")
EMAILS_BOUNCED = Counter("mlp_emails_bounced_total", "Bounces received for a participant's address")
INBOUND_MESSAGES = Counter(
    "mlp_inbound_messages_total", "Inbound emails by outcome",
    ["outcome"],  # accepted|bad_token|wrong_sender|auto_reply|bounce|too_large|malformed
)
FIRST_ANSWER_SECONDS = Histogram(
    "mlp_first_answer_seconds", "From routing to the first human answer of a lycée",
    buckets=(60, 300, 900, 3600, 4 * 3600, 86400, 2 * 86400, 3 * 86400, 7 * 86400, 14 * 86400, 21 * 86400,
             42 * 86400),
)
REMINDERS = Counter("mlp_reminders_total", "Reminders and escalations", ["step"])  # reminder|expiry|give_up
ACTIONS = Counter("mlp_assignment_actions_total", "One-click actions applied", ["action"])


class AssignmentGauge:
    """``mlp_assignments{status}``: RBE assignments by status, read from the database at scrape."""

    def __init__(self) -> None:
        self.engine: Engine | None = None

    def describe(self):
        return []

    def collect(self):
        family = GaugeMetricFamily("mlp_assignments", "RBE assignments by status", labels=["status"])
        if self.engine is not None:
            from sqlmodel import Session

            from services.notifier.repository import assignment_counts

            try:
                with Session(self.engine) as session:
                    counts = assignment_counts(session)
            except Exception:
                counts = {}
            for status in ("pending", "accepted", "declined", "transferred", "expired", "answered"):
                family.add_metric([status], counts.get(status, 0))
        yield family


ASSIGNMENTS = AssignmentGauge()
REGISTRY.register(ASSIGNMENTS)
