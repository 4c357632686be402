"""What the request form's POST asks of the campaigns: who an invitation token stands for (the
request's attribution, read from the database through the signed token, never from the form), and
the link from the contact to its request (the funnel)."""

from __future__ import annotations

from functools import lru_cache

from sqlmodel import Session

from services.intake.campaigns import contacts
from services.intake.campaigns.tokens import CampaignTokens
from services.intake.deps import IntakeContext
from shared.contracts.events import RequestSource
from shared.platform.clock import utcnow
from shared.platform.db import unit_of_work
from shared.platform.logging import get_logger

log = get_logger(__name__)


@lru_cache(maxsize=8)
def _tokens(secret_key: str, hash_key: str | None) -> CampaignTokens:
    return CampaignTokens(secret_key, hash_key)


def context_tokens(ctx: IntakeContext) -> CampaignTokens:
    return _tokens(ctx.settings.secret_key, ctx.settings.campaign_hash_key)


def _invited(ctx: IntakeContext, token: str) -> contacts.Invited | None:
    with Session(ctx.runtime.engine) as session:
        return contacts.invited(session, context_tokens(ctx), token)


async def attribution(ctx: IntakeContext, token: str) -> tuple[RequestSource | None, int | None]:
    """The source of a request posted with an invitation token (None, None: not a genuine one, then
    the request is a plain form request)."""
    if not token:
        return None, None
    who = await ctx.runtime.run_db(_invited, ctx, token)
    if who is None:
        log.warning("campaign_token_refused")
        return None, None
    return who.source, who.contact_id


def _submitted(ctx: IntakeContext, contact_id: int, request_id: str) -> None:
    with unit_of_work(ctx.runtime.engine) as session:
        contacts.submitted(session, contact_id, request_id, utcnow())


async def link_request(ctx: IntakeContext, contact_id: int, request_id: str) -> None:
    """The contact's first request, for the funnel (after the request's own commit: see docs/campaigns.md)."""
    try:
        await ctx.runtime.run_db(_submitted, ctx, contact_id, request_id)
    except Exception as exc:  # the request is accepted and attributed anyway; only the funnel link is missing
        log.warning("campaign_link_failed", error=type(exc).__name__)
