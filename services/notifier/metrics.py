"""Business metrics of the notifier (prefix ``mlp_``, bounded labels only)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine

if TYPE_CHECKING:  # the service package imports these metrics: no import cycle at run time
    from services.notifier.service.mailer import NotifierContext

EMAILS_SENT = Counter("mlp_emails_sent_total", "Email copies accepted by the SMTP relay", ["kind"])
EMAILS_FAILED = Counter(
    "mlp_emails_failed_total", "Email copies given up after the maximum number of attempts (dead)", ["kind"]
)
EMAIL_SEND_ERRORS = Counter("mlp_email_send_errors_total", "Failed SMTP send attempts (will be retried)")
EMAILS_BOUNCED = Counter("mlp_emails_bounced_total", "Bounces received for a participant's address")
INBOUND_MESSAGES = Counter(
    "mlp_inbound_messages_total", "Inbound emails by outcome",
    ["outcome"],  # accepted|duplicate|refused_attachments|undecodable|bad_token|held|auto_reply|bounce|too_large|malformed
)
INBOUND_HELD = Counter(
    "mlp_inbound_held_total", "Inbound replies held in quarantine (not relayed), by reason",
    ["reason"],  # unknown_sender|dkim_fail|spf_fail|misaligned
)
INBOUND_RELEASED = Counter(
    "mlp_inbound_released_total", "Held replies relayed by the participant (« Transmettre quand même »)",
)
ATTACHMENTS_DROPPED = Counter(
    "mlp_inbound_attachments_dropped_total", "Attachments of inbound replies not relayed, by reason",
    ["reason"],  # type|macro|size|undecodable
)
OUTCOME_QUESTIONS = Counter(
    "mlp_outcome_questions_total", "« Qu'est-ce qui en est sorti ? » emails queued, by round (1, or 2 after « rien "
    "pour l'instant »)", ["round"],
)
OUTCOME_ANSWERS = Counter("mlp_outcome_answers_total", "Outcome questions answered, by outcome kind", ["kind"])
FIRST_ANSWER_SECONDS = Histogram(
    "mlp_first_answer_seconds", "From routing to the first human answer of a lycée",
    buckets=(60, 300, 900, 3600, 4 * 3600, 86400, 2 * 86400, 3 * 86400, 7 * 86400, 14 * 86400, 21 * 86400,
             42 * 86400),
)
REMINDERS = Counter("mlp_reminders_total", "Reminders and escalations", ["step"])  # reminder|expiry|give_up
ACTIONS = Counter("mlp_assignment_actions_total", "One-click actions applied", ["action"])


class AssignmentGauge:
    """Read from the database at scrape: ``mlp_assignments{status}`` (RBE assignments by status) and
    ``mlp_requests_unanswered_over_5_working_days`` (threads routed 5+ working days ago that no lycée
    has answered yet, nor given up on: what the "unanswered" alert watches)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.ctx: NotifierContext | None = None  # clock and working-day calendar

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
        unanswered = GaugeMetricFamily(
            "mlp_requests_unanswered_over_5_working_days",
            "Requests routed at least 5 working days ago with no human answer yet",
        )
        if self.engine is not None and self.ctx is not None:
            from sqlmodel import Session

            from services.notifier.repository import unanswered_routed_before

            try:
                now = self.ctx.now()
                with Session(self.engine) as session:
                    routed = unanswered_routed_before(session, now - timedelta(days=5))
                calendar = self.ctx.calendar
                unanswered.add_metric([], sum(1 for at in routed if calendar.add_working_days(at, 5) <= now))
            except Exception:
                pass
        yield unanswered


class OutboundGauge:
    """Read from the database at scrape: ``mlp_outbound_emails_pending`` (copies queued and not sent
    yet) and ``mlp_outbound_oldest_pending_age_seconds`` (how long the oldest has waited). Under a
    burst beyond capacity the lead copies leave first and the others queue here: the sent rate
    alone does not show a company waiting for its acknowledgement."""

    def __init__(self) -> None:
        self.engine: Engine | None = None

    def describe(self):
        return []

    def collect(self):
        pending = GaugeMetricFamily("mlp_outbound_emails_pending", "Email copies queued and not sent yet")
        age = GaugeMetricFamily("mlp_outbound_oldest_pending_age_seconds",
                                "Age of the oldest email copy not sent yet (0 when none)")
        if self.engine is not None:
            from sqlmodel import Session

            from services.notifier.repository import outbound_backlog
            from shared.platform.clock import utcnow

            try:
                with Session(self.engine) as session:
                    count, oldest = outbound_backlog(session)
                pending.add_metric([], count)
                age.add_metric([], max(0.0, (utcnow() - oldest).total_seconds()) if oldest else 0.0)
            except Exception:
                pass
        yield pending
        yield age


ASSIGNMENTS = AssignmentGauge()
REGISTRY.register(ASSIGNMENTS)
OUTBOUND = OutboundGauge()
REGISTRY.register(OUTBOUND)
