"""Partner API keys at the HTTP edge: which partner calls, may it do this, is it within its limit.

A key is sent as ``X-API-Key: mlp_…`` (or ``Authorization: Bearer mlp_…``). Answers, with the
common French error body: 401 for a missing, unknown or revoked key (or a disabled partner), 403
for a key without the scope, 429 past the key's limit. Failed attempts count against the caller's
IP limit, so guessing keys costs the same as any other abuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from prometheus_client import Counter
from sqlmodel import Session
from starlette.exceptions import HTTPException

from services.intake.partners import keys, repository
from services.intake.partners.registry import PartnerRegistry
from services.intake.partners.repository import KeyOwner
from shared.platform.ratelimit import SlidingWindowLimiter

KEY_REFUSED = ("Clé d'API absente, invalide ou révoquée : envoyez la clé fournie par MonLycéePro dans "
               "l'en-tête X-API-Key.")
SCOPE_REFUSED = "Cette clé d'API ne permet pas de {action}."
KEY_LIMITED = "Trop d'appels avec cette clé d'API : patientez avant de réessayer."
IP_LIMITED = "Trop de tentatives depuis votre connexion. Patientez quelques minutes avant de réessayer."
REFUSED = Counter("mlp_partner_api_refused_total", "Partner API calls refused", ["reason"])


@dataclass
class PartnerContext:
    """Built once in app.py (``app.state.partners``)."""

    secret: bytes
    limiter: SlidingWindowLimiter
    registry: PartnerRegistry = field(default_factory=PartnerRegistry)


def presented_key(request: Request) -> str | None:
    """The key the caller sent, or None when it sent none (then it is the direct, anonymous API).

    One pass over the raw ASGI headers (names are lower-case there): this runs on every direct
    submission, where building Starlette's header mapping for it would cost more than the check."""
    bearer = None
    for name, value in request.scope["headers"]:
        if name == b"x-api-key":
            return value.decode("latin-1").strip()
        if name == b"authorization":
            bearer = value
    if bearer is None:
        return None
    scheme, _, token = bearer.decode("latin-1").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _owner(engine, key_hash: str) -> KeyOwner | None:
    with Session(engine) as session:
        return repository.key_owner(session, key_hash)


async def authenticate(request: Request, scope: str) -> KeyOwner:
    """The key's owner, allowed ``scope``; raises the HTTP error to answer otherwise."""
    ctx = request.app.state.intake
    partners: PartnerContext = request.app.state.partners
    key = presented_key(request) or ""
    owner = None
    if keys.well_formed(key):
        owner = await ctx.runtime.run_db(_owner, ctx.runtime.engine, keys.hash_key(key, partners.secret))
    if owner is None:
        window = ctx.settings.rate_limit_ip_window_s
        if not ctx.ip_limiter.hit(ctx.client_ip(request)):
            REFUSED.labels("rate_limited").inc()
            raise HTTPException(429, IP_LIMITED, headers={"Retry-After": str(window)})
        REFUSED.labels("invalid_key").inc()
        raise HTTPException(401, KEY_REFUSED, headers={"WWW-Authenticate": 'Bearer realm="monlyceepro"'})
    if scope not in owner.scopes:
        REFUSED.labels("scope").inc()
        raise HTTPException(403, SCOPE_REFUSED.format(action=keys.SCOPE_LABELS[scope]))
    if not partners.limiter.hit(owner.prefix):
        REFUSED.labels("rate_limited").inc()
        raise HTTPException(429, KEY_LIMITED,
                            headers={"Retry-After": str(partners.limiter.retry_after(owner.prefix))})
    request.state.partner_key = owner
    return owner
