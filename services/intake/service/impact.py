"""The public impact figures, from intake's own request table, the timeline it builds and the outcomes
it stores. ``impact`` is the v1 shape (``/api/v1/impact``, deprecated); ``impact_v2`` adds interactions,
joint actions, the answer rate, the sources and the actions by month, with small counts hidden
(docs/impact.md)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from services.intake import repository
from services.intake.outcomes import repository as outcomes_repo
from services.intake.partners import repository as partners_repo
from shared.contracts.events import JOINT_ACTION_KINDS, OUTCOME_LABELS
from shared.contracts.request_schema import NEED_LABELS

PERIODS: dict[str, tuple[str, int | None]] = {
    "30j": ("30 derniers jours", 30),
    "90j": ("3 derniers mois", 90),
    "12m": ("12 derniers mois", 365),
    "tout": ("Depuis le lancement", None),
}
DEFAULT_PERIOD = "90j"
# Where requests came from (RequestSource.kind), in the order of the page.
SOURCE_LABELS = {
    "form": "Formulaire de MonLycéePro", "api": "API (sans clé de partenaire)",
    "embed": "Formulaire intégré au site d'un partenaire", "partner_api": "API d'un partenaire",
    "campaign": "Campagne d'invitation",
}
# Whether the request's académie was in the pilot when it was taken (issue 20).
PILOT_LABELS = {"inside": "Académies pilotes", "outside": "Hors académies pilotes"}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _figures(rows: list[tuple]) -> dict:
    """v1's figures, under v2's publication rule: a count from 1 to 4 is null (« moins de 5 ») and the median
    is hidden below 5 answers, so the deprecated API cannot single out a company or a lycée either."""
    received = len(rows)
    routed = sum(1 for r in rows if r[3] is not None)
    delays = [(_aware(r[4]) - _aware(r[0])).total_seconds() / 3600 for r in rows if r[4] is not None]
    return {
        "received": masked(received),
        "routed": masked(routed),
        "answered": masked(len(delays)),
        "median_hours_to_first_answer": round(statistics.median(delays), 1) if len(delays) >= THRESHOLD else None,
    }


def impact(session: Session, period: str, now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    label, days = PERIODS[period]
    since = now - timedelta(days=days) if days else None
    rows = repository.requests_since(session, since)
    by_academie: dict[str, list[tuple]] = defaultdict(list)
    by_need: dict[str, list[tuple]] = defaultdict(list)
    by_source: dict[str, list[tuple]] = defaultdict(list)
    by_pilot: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        by_academie[row[2] or "Non renseignée"].append(row)
        by_source[row[5] or "form"].append(row)
        by_pilot["inside" if row[6] else "outside"].append(row)
        for need in row[1] or []:
            by_need[need].append(row)
    return {
        "period": period,
        "period_label": label,
        "since": since.isoformat() if since else None,
        "totals": _figures(rows),
        "by_academie": [{"academie": name, **_figures(r)} for name, r in sorted(by_academie.items())],
        "by_need": [
            {"need": code, "label": NEED_LABELS[code], **_figures(by_need[code])}
            for code in NEED_LABELS if code in by_need
        ],
        "by_source": [{"source": code, "label": text, **_figures(by_source[code])}
                      for code, text in SOURCE_LABELS.items() if code in by_source],
        "by_pilot": [{"pilot": code, "label": text, **_figures(by_pilot[code])}
                     for code, text in PILOT_LABELS.items() if code in by_pilot],
    }


def french_duration(hours: float | None) -> str:
    """A delay as people say it: « 6 min », « 2,5 h », « 3 j » (never « 0.1 h »)."""
    if hours is None:
        return "—"
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{hours:.1f}".rstrip("0").rstrip(".").replace(".", ",") + " h"
    return f"{hours / 24:.1f}".rstrip("0").rstrip(".").replace(".", ",") + " j"


# ------------------------------------------------------------------ v2: interactions and joint actions
THRESHOLD = 5  # a count from 1 to THRESHOLD - 1 is published as « moins de 5 » (docs/impact.md)
SOURCES = {"form": "Formulaire MonLycéePro", "partner": "Site partenaire", "campaign": "Campagne d'invitation"}
SOURCE_OF_KIND = {"form": "form", "api": "form", "embed": "partner", "partner_api": "partner", "campaign": "campaign"}
CHART_MONTHS = 24  # at most this many months on the plot


@dataclass(frozen=True)
class ImpactRequest:
    id: str
    created_at: datetime
    needs: list[str]
    academie: str
    source: str
    routed_at: datetime | None
    answered_at: datetime | None
    partner: str | None = None  # the partner's slug (embedded form, API key, or its campaign)
    in_pilot: bool = True  # decided when the request was taken (docs/operations.md, pilot académies)


def measures(requests: list[ImpactRequest], actions: dict[str, set[str]]) -> dict:
    """The exact figures of a group of requests (ops' metrics); ``actions``: kinds per request id."""
    answered = [r for r in requests if r.answered_at is not None]
    routed = sum(1 for r in requests if r.routed_at is not None)
    delays = [(_aware(r.answered_at) - _aware(r.created_at)).total_seconds() / 3600 for r in answered
              if r.answered_at is not None]
    by_kind = {kind: sum(1 for r in requests if kind in actions.get(r.id, ())) for kind in JOINT_ACTION_KINDS}
    return {
        "received": len(requests),
        "routed": routed,
        "interactions": len(answered),
        "answer_rate": len(answered) / routed if routed else None,
        "median_hours_to_first_answer": statistics.median(delays) if delays else None,
        "actions": by_kind,
        "actions_total": sum(by_kind.values()),
    }


def masked(count: int) -> int | None:
    """None (« moins de 5 ») for a count that could single out a company or a lycée."""
    return None if 0 < count < THRESHOLD else count


def public(figures: dict) -> dict:
    """The published version: small counts hidden, and no rate or median computed on fewer than
    THRESHOLD requests (a median of two delays is two companies' delays)."""
    enough = figures["interactions"] >= THRESHOLD and figures["routed"] >= THRESHOLD
    rate, median = figures["answer_rate"], figures["median_hours_to_first_answer"]
    return {
        "received": masked(figures["received"]),
        "routed": masked(figures["routed"]),
        "interactions": masked(figures["interactions"]),
        "answer_rate_percent": round(100 * rate) if enough and rate is not None else None,
        "median_hours_to_first_answer": round(median, 1) if enough and median is not None else None,
        "actions": {kind: masked(n) for kind, n in figures["actions"].items()},
        "actions_total": masked(figures["actions_total"]),
    }


def load(session: Session, since: datetime | None) -> tuple[list[ImpactRequest], dict[str, set[str]], list[tuple]]:
    """The requests created since ``since``, the joint action kinds of each, and every (request, kind,
    first said at) once: the company and the lycée saying « PFMP accueillie » is one PFMP."""
    requests = [ImpactRequest(r[0], r[1], list(r[2] or []), r[3] or "Non renseignée",
                              SOURCE_OF_KIND.get(r[4] or "form", "form"), r[5], r[6], r[7],
                              r[8] is not False)
                for r in repository.impact_rows_since(session, since)]
    actions: dict[str, set[str]] = defaultdict(set)
    firsts: list[tuple] = []
    for request_id, kind, at in outcomes_repo.actions_since(session, since, JOINT_ACTION_KINDS):
        if kind not in actions[request_id]:
            actions[request_id].add(kind)
            firsts.append((request_id, kind, _aware(at)))
    return requests, actions, firsts


def grouped(requests: list[ImpactRequest]) -> dict[str, dict[str, list[ImpactRequest]]]:
    groups: dict[str, dict[str, list[ImpactRequest]]] = {"academie": defaultdict(list), "need": defaultdict(list),
                                                         "source": defaultdict(list), "partner": defaultdict(list),
                                                         "pilot": defaultdict(list)}
    for r in requests:
        groups["academie"][r.academie].append(r)
        groups["source"][r.source].append(r)
        groups["pilot"]["inside" if r.in_pilot else "outside"].append(r)
        if r.partner:
            groups["partner"][r.partner].append(r)
        for need in r.needs:
            groups["need"][need].append(r)
    return groups


def _months(firsts: list[tuple], since: datetime | None, now: datetime) -> list[dict]:
    per_month: dict[tuple[int, int], int] = defaultdict(int)
    for _, _, at in firsts:
        per_month[(at.year, at.month)] += 1
    start = since or (min(at for _, _, at in firsts) if firsts else now)
    year, month, out = start.year, start.month, []
    while (year, month) <= (now.year, now.month):
        count = per_month.get((year, month), 0)
        out.append({"month": f"{year:04d}-{month:02d}", "label": f"{MONTHS_FR[month - 1]} {year}",
                    "actions": masked(count)})
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out[-CHART_MONTHS:]


MONTHS_FR = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")


def impact_v2(session: Session, period: str, now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    label, days = PERIODS[period]
    since = now - timedelta(days=days) if days else None
    requests, actions, firsts = load(session, since)
    groups = grouped(requests)
    names = {p.slug: p.name for p in partners_repo.all_partners(session)}
    return {
        "period": period,
        "period_label": label,
        "since": since.isoformat() if since else None,
        "threshold": THRESHOLD,
        "action_kinds": [{"kind": k, "label": OUTCOME_LABELS[k]} for k in JOINT_ACTION_KINDS],
        "totals": public(measures(requests, actions)),
        "by_academie": [{"academie": name, **public(measures(rows, actions))}
                        for name, rows in sorted(groups["academie"].items())],
        "by_need": [{"need": code, "label": NEED_LABELS[code], **public(measures(groups["need"][code], actions))}
                    for code in NEED_LABELS if code in groups["need"]],
        "by_source": [{"source": code, "label": SOURCES[code], **public(measures(groups["source"][code], actions))}
                      for code in SOURCES if code in groups["source"]],
        "by_partner": [{"partner": slug, "label": names.get(slug, slug), **public(measures(rows, actions))}
                       for slug, rows in sorted(groups["partner"].items())],
        "by_pilot": [{"pilot": code, "label": text, **public(measures(groups["pilot"][code], actions))}
                     for code, text in PILOT_LABELS.items() if code in groups["pilot"]],
        "actions_by_month": _months(firsts, since, now),
    }


def ops_figures(session: Session, period: str, now: datetime | None = None) -> dict[str, dict[str, dict]]:
    """The exact figures (the Prometheus gauges): by académie (plus ``"all"``, the whole country), by need
    and by source."""
    now = now or datetime.now(UTC)
    days = PERIODS[period][1]
    requests, actions, _ = load(session, now - timedelta(days=days) if days else None)
    groups = grouped(requests)
    out = {dimension: {name: measures(rows, actions) for name, rows in groups[dimension].items()}
           for dimension in ("academie", "need", "source")}
    out["academie"]["all"] = measures(requests, actions)
    return out


def count_label(value: int | None) -> str:
    """A published count as the page says it."""
    return "moins de 5" if value is None else str(value)
