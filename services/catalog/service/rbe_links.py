"""The signed links of the RBE naming flow: the lycée's naming link (in its invitation; names the UAI,
reusable until it expires) and a named RBE's confirmation link (names the nomination; used once, since a
confirmed nomination stays confirmed)."""

from __future__ import annotations

from services.catalog.service.magic import LinkError, SignedClaim, sign, verify

NAMING_LINK = "rbe-naming"  # the link of the invitation: names the lycée (its UAI), reusable until it expires
CONFIRM_LINK = "rbe-confirm"  # the link a named RBE gets: names the nomination
NAMING_TTL_S = 60 * 24 * 3600  # an invitation is read late; a reminder carries a fresh link
CONFIRM_TTL_S = 14 * 24 * 3600


def naming_token(secret: str, uai: str, now: float | None = None) -> str:
    return sign(secret, NAMING_LINK, uai, now)[0]


def naming_uai(secret: str, token: str) -> str:
    """The UAI a naming link was issued for; raises LinkError (French message)."""
    try:
        return verify(secret, NAMING_LINK, token[:2000], NAMING_TTL_S).email
    except LinkError as exc:
        if exc.kind == "expired":
            raise LinkError(
                "expired",
                "Ce lien a expiré (il est valable 60 jours). Demandez au service un nouvel "
                "envoi de l'invitation à l'adresse officielle du lycée.",
            ) from None
        raise


def confirm_token(secret: str, nomination_id: int) -> str:
    return sign(secret, CONFIRM_LINK, str(nomination_id))[0]


def confirm_claim(secret: str, token: str) -> SignedClaim:
    try:
        return verify(secret, CONFIRM_LINK, token[:2000], CONFIRM_TTL_S)
    except LinkError as exc:
        if exc.kind == "expired":
            raise LinkError(
                "expired",
                "Ce lien de confirmation a expiré (il est valable 14 jours) : le lycée peut "
                "vous désigner à nouveau.",
            ) from None
        raise
