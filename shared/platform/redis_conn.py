"""Every Redis connection of the platform, made from ``MLP_REDIS_URL`` in one place.

The URL carries everything a managed Redis asks for (redis-py's URL syntax, read the same way by
faststream's broker):

* ``redis://host:6379/0``: plain, no password (compose, development);
* ``redis://user:password@host:6379/0``: an ACL user (Redis 6+); user and password
  percent-encoded (``urllib.parse.quote(password, safe="")``);
* ``rediss://user:password@host:6380/0``: the same over TLS. The server's certificate is checked
  against the system's CAs and its name against the host (redis-py's defaults);
* ``rediss://…/0?ssl_ca_certs=/etc/mlp/redis-ca.pem``: a private CA (many managed offers);
  ``ssl_certfile``/``ssl_keyfile`` for a client certificate when the server asks for one.

A wrong user or password fails at the first command with ``redis.AuthenticationError``
("invalid username-password pair or user is disabled"); a certificate the client cannot verify
with ``redis.ConnectionError`` naming the SSL error. :func:`redacted` is the form to log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio

if TYPE_CHECKING:  # settings.py imports this module: faststream is loaded only by who builds a broker
    from faststream.redis import RedisBroker

SCHEMES = ("redis", "rediss", "unix")


def check_redis_url(url: str) -> str:
    """The URL itself if its scheme is one redis-py reads, else a ValueError saying which are."""
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise ValueError(
            f"MLP_REDIS_URL doit commencer par redis://, rediss:// (TLS) ou unix:// (reçu : {scheme or 'rien'}://…)"
        )
    return url


def redacted(url: str) -> str:
    """The URL without its password (for logs and error messages); the user name stays."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def redis_client(url: str, *, connect_timeout_s: float = 2, timeout_s: float = 5, **kwargs: Any) -> redis.asyncio.Redis:
    """An asyncio client (services' routes, consumers, gauges)."""
    return redis.asyncio.Redis.from_url(
        check_redis_url(url), socket_connect_timeout=connect_timeout_s, socket_timeout=timeout_s, **kwargs
    )


def redis_client_sync(url: str, *, connect_timeout_s: float = 2, timeout_s: float = 10, **kwargs: Any) -> redis.Redis:
    """A blocking client (housekeeping threads, command-line tools)."""
    return redis.Redis.from_url(
        check_redis_url(url), socket_connect_timeout=connect_timeout_s, socket_timeout=timeout_s, **kwargs
    )


def redis_broker(url: str, **kwargs: Any) -> RedisBroker:
    """faststream's broker on the same URL (it parses it with redis-py: TLS, user and password alike),
    with faststream's own logger off (ours, structlog, logs)."""
    from faststream.redis import RedisBroker

    kwargs.setdefault("logger", None)
    return RedisBroker(check_redis_url(url), **kwargs)
