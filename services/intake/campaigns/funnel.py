"""The funnel of each campaign, by académie: invited → opened the link → submitted → answered.

* invited: the invitation was sent (``sent``, or ``uncertain``: most likely received);
* opened: the signed link was opened at least once (a mail scanner that follows links counts too);
* submitted: a request came through the link (the first one is linked to the contact);
* answered: that request got a first human answer (intake's ``first_answered_at``).

Erased contacts still count: their académie and dates stay, without anything personal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from services.intake.campaigns import repository
from services.intake.campaigns.models import Campaign

STAGES = ("contacts", "invited", "opened", "submitted", "answered")
NO_ACADEMIE = "(sans académie)"


@dataclass
class Counts:
    contacts: int = 0
    invited: int = 0
    opened: int = 0
    submitted: int = 0
    answered: int = 0

    def add(self, invited: bool, opened: bool, submitted: bool, answered: bool) -> None:
        self.contacts += 1
        self.invited += bool(invited)
        self.opened += bool(opened)
        self.submitted += bool(submitted)
        self.answered += bool(answered)

    def as_dict(self) -> dict[str, int]:
        return {stage: getattr(self, stage) for stage in STAGES}


@dataclass
class CampaignFunnel:
    campaign: Campaign
    total: Counts = field(default_factory=Counts)
    by_academie: dict[str, Counts] = field(default_factory=dict)
    attributed_requests: int = 0  # every request attributed to the campaign (a contact may submit twice)


def funnels(session: Session, campaign_name: str | None = None) -> list[CampaignFunnel]:
    """One funnel per campaign (only ``campaign_name``'s when given; [] if it does not exist)."""
    if campaign_name is not None:
        one = repository.campaign_by_name(session, campaign_name)
        campaigns = [one] if one is not None else []
    else:
        campaigns = repository.all_campaigns(session)
    result = {c.id: CampaignFunnel(c) for c in campaigns}
    rows = repository.funnel_rows(session, campaigns[0].id if campaign_name is not None and campaigns else None)
    for campaign_id, academie, invited, opened, submitted, answered in rows:
        funnel = result.get(campaign_id)
        if funnel is None:
            continue
        funnel.total.add(invited, opened, submitted, answered)
        funnel.by_academie.setdefault(academie or NO_ACADEMIE, Counts()).add(invited, opened, submitted, answered)
    for campaign_id, count in repository.attributed_requests(session, list(result)).items():
        result[campaign_id].attributed_requests = count
    return list(result.values())


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "–"


def render(funnels_: list[CampaignFunnel]) -> str:
    """The funnels as French text for the terminal."""
    if not funnels_:
        return "Aucune campagne."
    out: list[str] = []
    header = f"  {'académie':28s} {'contacts':>8s} {'invités':>8s} {'ouvert':>8s} {'demandes':>9s} {'répondues':>9s}"
    for funnel in funnels_:
        c = funnel.campaign
        t = funnel.total
        out.append(f"Campagne « {c.name} »" + (f" (partenaire : {c.partner})" if c.partner else "") + f" — id {c.id}")
        out.append(f"  invités → lien ouvert → demande déposée → réponse : {t.invited} → {t.opened} → {t.submitted} → "
                   f"{t.answered} ({_percent(t.opened, t.invited)} ouvrent, {_percent(t.submitted, t.invited)} "
                   f"déposent, {_percent(t.answered, t.submitted)} des demandes ont une réponse)")
        out.append(header)
        for academie, counts in sorted(funnel.by_academie.items()):
            out.append(f"  {academie[:28]:28s} {counts.contacts:8d} {counts.invited:8d} {counts.opened:8d} "
                       f"{counts.submitted:9d} {counts.answered:9d}")
        out.append(f"  {'total':28s} {t.contacts:8d} {t.invited:8d} {t.opened:8d} {t.submitted:9d} {t.answered:9d}")
        out.append(f"  demandes attribuées à la campagne : {funnel.attributed_requests}")
        out.append("")
    return "\n".join(out).rstrip()
