"""Partner API keys and the rules on partners' names and origins (no framework, no database).

A key is ``mlp_`` + 8 hexadecimal characters (its *prefix*, stored in clear to name the key in
lists and logs) + ``_`` + 32 random bytes (base64url): 256 bits from ``secrets``. Only an
HMAC-SHA256 of the whole key, keyed with a server secret, is stored.

Why a fast keyed hash and not bcrypt/argon2: slow hashes protect *low-entropy* secrets (passwords
people choose) against offline guessing. A 256-bit random key cannot be guessed whatever the hash
costs, so a slow hash would only add ~100 ms of CPU to every partner call (and a way to burn our
CPU with bogus keys). The HMAC is deterministic, so a key is found by one indexed lookup of its
hash, and keyed, so a stolen copy of the database alone does not even let anyone test a candidate
key offline: the secret lives in the settings, not in the database.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

KEY_PREFIX = "mlp_"
SCOPES = ("submit", "status")
SCOPE_LABELS = {"submit": "déposer des demandes", "status": "lire le suivi de ses demandes et son bilan"}
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
_KEY = re.compile(r"^mlp_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$")
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]"}


@dataclass(frozen=True)
class NewKey:
    prefix: str
    key: str  # shown once, never stored
    key_hash: str


def key_secret(secret: str) -> bytes:
    """The HMAC key, derived from the server secret for this one use (rotating MLP_SECRET_KEY, or
    MLP_PARTNER_KEY_SECRET when set, invalidates every partner key: they must be created again)."""
    return hmac.new(secret.encode(), b"monlyceepro partner api key v1", hashlib.sha256).digest()


def hash_key(key: str, secret: bytes) -> str:
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def new_key(secret: bytes) -> NewKey:
    prefix = KEY_PREFIX + secrets.token_hex(4)
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(prefix, key, hash_key(key, secret))


def well_formed(key: str) -> bool:
    """Cheap shape check before any lookup: garbage never reaches the database."""
    return bool(_KEY.match(key))


def parse_scopes(text: str) -> tuple[str, ...]:
    """« submit,status » -> ("submit", "status"); ValueError (French) for an unknown scope or none."""
    scopes = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ValueError(f"Portée inconnue : {', '.join(unknown) or '(aucune)'} ; portées possibles : "
                         f"{', '.join(SCOPES)}.")
    return scopes


def check_slug(slug: str) -> str:
    if not SLUG.match(slug):
        raise ValueError("Identifiant invalide : 1 à 40 caractères parmi a-z, 0-9 et « - », sans « - » "
                         "au début ni à la fin (ex. les-entreprises-s-engagent).")
    return slug


def normalise_origin(text: str) -> str:
    """« https://www.Example.fr/ » -> « https://www.example.fr »; ValueError (French) otherwise.

    An origin is a scheme, a host and an optional port, nothing else: no path, no wildcard. HTTPS
    only, except loopback hosts (development and tests)."""
    raw = text.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise ValueError(f"Origine invalide : {raw!r}.") from None
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    if (parts.scheme not in {"http", "https"} or not host or "*" in raw or parts.path not in {"", "/"}
            or parts.query or parts.fragment or parts.username or parts.password):
        raise ValueError(f"Origine invalide : {raw!r}. Attendu : https://site.exemple.fr (sans chemin ni joker).")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ValueError(f"Origine refusée : {raw!r}. Seul https:// est accepté (http:// pour localhost seulement).")
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def partner_idempotency_key(slug: str, key: str) -> str:
    """The stored form of a partner's Idempotency-Key: in the partner's own namespace (another caller
    reusing the same text never gets this partner's first answer), and of bounded length."""
    return f"partner:{slug}:{hashlib.sha256(key.encode()).hexdigest()}"
