"""Signed reply addresses and one-click action tokens: both verified without any lookup.

Reply address: ``reply+<thread>.<participant>.<hmac>@<reply_domain>``, all lower-case hex so
that a mail system folding the local part's case does not break it, and short enough for the
64-character limit of RFC 5321.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

_LOCAL_RE = re.compile(r"^reply\+([0-9a-f]{10})\.([0-9a-f]{8})\.([0-9a-f]{20})$")
ACTIONS = ("accept", "decline", "transfer")


def new_thread_token() -> str:
    return secrets.token_hex(5)


def new_participant_token() -> str:
    return secrets.token_hex(4)


def _mac(secret: str, thread_token: str, participant_token: str) -> str:
    msg = f"reply:{thread_token}.{participant_token}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()[:20]


def reply_address(secret: str, domain: str, thread_token: str, participant_token: str) -> str:
    mac = _mac(secret, thread_token, participant_token)
    return f"reply+{thread_token}.{participant_token}.{mac}@{domain}"


@dataclass(frozen=True)
class ReplyTarget:
    thread_token: str
    participant_token: str


def verify_reply_address(secret: str, domain: str, address: str) -> ReplyTarget | None:
    """The (thread, participant) an address names, or None if it is not a genuine reply address."""
    address = address.strip().strip("<>").lower()
    local, _, dom = address.rpartition("@")
    if dom != domain.lower():
        return None
    match = _LOCAL_RE.match(local)
    if not match:
        return None
    thread_token, participant_token, mac = match.groups()
    if not hmac.compare_digest(mac, _mac(secret, thread_token, participant_token)):
        return None
    return ReplyTarget(thread_token, participant_token)


# ------------------------------------------------------------------ one-click actions
class ActionTokenError(Exception):
    def __init__(self, reason: str) -> None:  # reason: invalid | expired
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ActionClaim:
    participant_id: str
    action: str
    nonce: str


_ACTION_SALT = b"mlp-notifier-action"


@lru_cache(maxsize=4)
def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_ACTION_SALT)


@lru_cache(maxsize=4)
def _action_mac(secret: str) -> hmac.HMAC:
    """The HMAC ``_serializer`` signs with (SHA-1, "django-concat" key derivation), keyed once."""
    key = hashlib.sha1(_ACTION_SALT + b"signer" + secret.encode()).digest()
    return hmac.new(key, digestmod=hashlib.sha1)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def make_action_token(secret: str, participant_id: str, action: str, now: float | None = None) -> str:
    """What ``_serializer(secret).dumps(claim)`` writes (``read_action_token`` reads it with
    itsdangerous), written directly: a copy with action links carries three tokens, and most of
    the serializer's cost was its attempt to zlib-compress the claim. That saves a few bytes for
    about one claim in six (~70 bytes of hex); here the claim is never compressed, which
    itsdangerous reads just the same. ``now``: when the token is issued (seconds since the
    epoch), the current time by default."""
    if action not in ACTIONS:
        raise ValueError(action)
    payload = json.dumps({"p": participant_id, "a": action, "n": secrets.token_hex(8)},
                         ensure_ascii=False, separators=(",", ":")).encode()
    issued = int(time.time() if now is None else now)
    body = _b64(payload)
    signed = body + b"." + _b64(issued.to_bytes(8, "big").lstrip(b"\x00"))
    mac = _action_mac(secret).copy()
    mac.update(signed)
    return (signed + b"." + _b64(mac.digest())).decode("ascii")


def read_action_token(secret: str, token: str, max_age_s: int) -> ActionClaim:
    try:
        data = _serializer(secret).loads(token, max_age=max_age_s)
    except SignatureExpired as exc:
        raise ActionTokenError("expired") from exc
    except (BadSignature, ValueError, TypeError) as exc:
        raise ActionTokenError("invalid") from exc
    if not isinstance(data, dict) or data.get("a") not in ACTIONS or not data.get("p") or not data.get("n"):
        raise ActionTokenError("invalid")
    return ActionClaim(str(data["p"]), str(data["a"]), str(data["n"]))


# ------------------------------------------------------------------ « Transmettre quand même »
@dataclass(frozen=True)
class ReleaseClaim:
    inbound_id: str
    nonce: str


_RELEASE_SALT = b"mlp-notifier-release"


def make_release_token(secret: str, inbound_id: str) -> str:
    """The signed link that relays one held reply (and vouches for its sender in the thread)."""
    return URLSafeTimedSerializer(secret, salt=_RELEASE_SALT).dumps({"i": inbound_id, "n": secrets.token_hex(8)})


def read_release_token(secret: str, token: str, max_age_s: int) -> ReleaseClaim:
    try:
        data = URLSafeTimedSerializer(secret, salt=_RELEASE_SALT).loads(token, max_age=max_age_s)
    except SignatureExpired as exc:
        raise ActionTokenError("expired") from exc
    except (BadSignature, ValueError, TypeError) as exc:
        raise ActionTokenError("invalid") from exc
    if not isinstance(data, dict) or not data.get("i") or not data.get("n"):
        raise ActionTokenError("invalid")
    return ReleaseClaim(str(data["i"]), str(data["n"]))
