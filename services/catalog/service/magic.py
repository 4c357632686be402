"""Signed, expiring, single-use magic links and the session cookies of the RBE space and of the referents'
back-office (HMAC-SHA256, no password; each space signs with its own purpose).

Single use is enforced by the caller, which records each token id and refuses it once used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

LINK_TTL_S = 30 * 60
SESSION_TTL_S = 2 * 3600


class LinkError(ValueError):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # tampered / expired / replayed / unknown (never issued)


@dataclass(frozen=True)
class SignedClaim:
    email: str
    token_id: str
    issued_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, purpose: str, payload: str) -> str:
    return _b64(hmac.new(f"{purpose}:{secret}".encode(), payload.encode(), hashlib.sha256).digest())


def sign(secret: str, purpose: str, email: str, now: float | None = None) -> tuple[str, SignedClaim]:
    claim = SignedClaim(email=email, token_id=secrets.token_urlsafe(18), issued_at=int(now if now is not None else time.time()))
    payload = _b64(json.dumps({"e": claim.email, "j": claim.token_id, "t": claim.issued_at}).encode())
    return f"{payload}.{_mac(secret, purpose, payload)}", claim


def verify(secret: str, purpose: str, token: str, ttl_s: int, now: float | None = None) -> SignedClaim:
    try:
        payload, mac = token.strip().split(".", 1)
    except ValueError:
        raise LinkError("tampered", "Ce lien n'est pas valide : il a peut-être été coupé ou modifié.") from None
    if not hmac.compare_digest(mac, _mac(secret, purpose, payload)):
        raise LinkError("tampered", "Ce lien n'est pas valide : il a peut-être été coupé ou modifié.")
    try:
        data = json.loads(_unb64(payload))
        claim = SignedClaim(email=str(data["e"]), token_id=str(data["j"]), issued_at=int(data["t"]))
    except (ValueError, KeyError, TypeError):
        raise LinkError("tampered", "Ce lien n'est pas valide.") from None
    current = now if now is not None else time.time()
    if current - claim.issued_at > ttl_s or claim.issued_at - current > 60:
        raise LinkError("expired", "Ce lien a expiré (il est valable 30 minutes). Demandez-en un nouveau.")
    return claim


RBE_LINK, RBE_SESSION = "rbe-magic-link", "rbe-session"
REFERENT_LINK, REFERENT_SESSION = "referent-magic-link", "referent-session"  # the académie referents' back-office


def issue_link_token(secret: str, email: str, now: float | None = None, purpose: str = RBE_LINK) -> tuple[str, SignedClaim]:
    return sign(secret, purpose, email, now)


def verify_link_token(secret: str, token: str, now: float | None = None, purpose: str = RBE_LINK) -> SignedClaim:
    return verify(secret, purpose, token, LINK_TTL_S, now)


def issue_session(secret: str, email: str, purpose: str = RBE_SESSION) -> str:
    return sign(secret, purpose, email)[0]


def verify_session(secret: str, cookie: str | None, purpose: str = RBE_SESSION) -> SignedClaim | None:
    if not cookie:
        return None
    try:
        return verify(secret, purpose, cookie, SESSION_TTL_S)
    except LinkError:
        return None


def csrf_token(secret: str, session: SignedClaim) -> str:
    return _mac(secret, "rbe-csrf", session.token_id)
