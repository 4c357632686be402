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


@lru_cache(maxsize=8)
def _action_mac(secret: str, salt: bytes = _ACTION_SALT) -> hmac.HMAC:
    """The HMAC ``_serializer`` signs with (SHA-1, "django-concat" key derivation), keyed once."""
    key = hashlib.sha1(salt + b"signer" + secret.encode()).digest()
    return hmac.new(key, digestmod=hashlib.sha1)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _signed_token(secret: str, salt: bytes, claim: dict) -> str:
    """What ``URLSafeTimedSerializer(secret, salt=salt).dumps(claim)`` writes, written directly (see
    ``make_action_token``)."""
    issued_at = claim.pop("t", None)
    payload = json.dumps(claim, ensure_ascii=False, separators=(",", ":")).encode()
    issued = int(time.time() if issued_at is None else issued_at)
    body = _b64(payload)
    signed = body + b"." + _b64(issued.to_bytes(8, "big").lstrip(b"\x00"))
    mac = _action_mac(secret, salt).copy()
    mac.update(signed)
    return (signed + b"." + _b64(mac.digest())).decode("ascii")


def make_action_token(secret: str, participant_id: str, action: str, now: float | None = None) -> str:
    """What ``_serializer(secret).dumps(claim)`` writes (``read_action_token`` reads it with
    itsdangerous), written directly: a copy with action links carries three tokens, and most of
    the serializer's cost was its attempt to zlib-compress the claim. That saves a few bytes for
    about one claim in six (~70 bytes of hex); here the claim is never compressed, which
    itsdangerous reads just the same. ``now``: when the token is issued (seconds since the
    epoch), the current time by default."""
    if action not in ACTIONS:
        raise ValueError(action)
    return _signed_token(secret, _ACTION_SALT, {"p": participant_id, "a": action, "n": secrets.token_hex(8), "t": now})


def _loads(serializer: URLSafeTimedSerializer, token: str, max_age_s: int) -> object:
    """The claim of a signed token, or ActionTokenError("expired" | "invalid")."""
    try:
        return serializer.loads(token, max_age=max_age_s)
    except SignatureExpired as exc:
        raise ActionTokenError("expired") from exc
    except (BadSignature, ValueError, TypeError) as exc:
        raise ActionTokenError("invalid") from exc


def read_action_token(secret: str, token: str, max_age_s: int) -> ActionClaim:
    data = _loads(_serializer(secret), token, max_age_s)
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
    data = _loads(URLSafeTimedSerializer(secret, salt=_RELEASE_SALT), token, max_age_s)
    if not isinstance(data, dict) or not data.get("i") or not data.get("n"):
        raise ActionTokenError("invalid")
    return ReleaseClaim(str(data["i"]), str(data["n"]))


# ------------------------------------------------------------------ « Qu'est-ce qui en est sorti ? »
@dataclass(frozen=True)
class OutcomeClaim:
    question_id: str  # the nonce of every choice of one question: the first one used spends them all
    kind: str


_OUTCOME_SALT = b"mlp-notifier-outcome"


def make_outcome_token(secret: str, question_id: str, kind: str, now: float | None = None) -> str:
    """One choice of an outcome question, signed like the one-click actions (same key derivation,
    another salt, so neither link can stand for the other)."""
    return _signed_token(secret, _OUTCOME_SALT, {"q": question_id, "k": kind, "t": now})


def read_outcome_token(secret: str, token: str, max_age_s: int, kinds: tuple[str, ...]) -> OutcomeClaim:
    data = _loads(URLSafeTimedSerializer(secret, salt=_OUTCOME_SALT), token, max_age_s)
    if not isinstance(data, dict) or data.get("k") not in kinds or not data.get("q"):
        raise ActionTokenError("invalid")
    return OutcomeClaim(str(data["q"]), str(data["k"]))
