"""Connection settings from a URL (redis://, rediss://, unix://, REDISCLI_AUTH), for the probes'
own wire client and for redis-py in actions. redis-py normally sends CLIENT SETINFO and HELLO on
connect; we turn both off, so a server sees only AUTH and the commands we send."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from runbook.secrets import mask_url


class RedisUrlError(ValueError):
    pass


def connection_kwargs(url: str, timeout: float) -> dict[str, Any]:
    try:
        parts = urlsplit(url)
    except ValueError as e:
        raise RedisUrlError(f"not a valid URL: {mask_url(url)} ({e})") from None
    scheme = parts.scheme.lower()
    kw: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "driver_info": None,  # no CLIENT SETINFO on connect
        "decode_responses": False,
        "protocol": 2,  # RESP2: no HELLO on connect (not in the read-only allowlist)
    }
    q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    try:
        if scheme in ("unix", "redis+unix"):
            if not parts.path:
                raise RedisUrlError(f"{mask_url(url)}: a unix URL needs a socket path (unix:///run/redis.sock)")
            kw["unix_socket_path"] = unquote(parts.path)
            kw["password"] = q.get("password") or (unquote(parts.password) if parts.password else None)
            kw["username"] = q.get("username") or (unquote(parts.username) if parts.username and parts.password else None)
            kw["db"] = int(q.get("db", 0))
        elif scheme in ("redis", "rediss"):
            if not parts.hostname:
                raise RedisUrlError(f"{mask_url(url)}: no host")
            kw["host"] = parts.hostname
            kw["port"] = parts.port or 6379
            if parts.password is not None:
                kw["password"] = unquote(parts.password)
                kw["username"] = unquote(parts.username) if parts.username else None
            elif parts.username:  # redis://secret@host: a lone user part is a password
                kw["password"] = unquote(parts.username)
            db = parts.path.lstrip("/") or q.get("db", "0")
            kw["db"] = int(db)
            if scheme == "rediss":
                kw["ssl"] = True
                if q.get("ssl_cert_reqs") == "none":
                    kw["ssl_cert_reqs"] = None
        else:
            raise RedisUrlError(f"{mask_url(url)}: use redis://, rediss:// or unix://")
    except ValueError as e:
        if isinstance(e, RedisUrlError):
            raise
        raise RedisUrlError(f"{mask_url(url)}: {e}") from None
    if not kw.get("password") and os.environ.get("REDISCLI_AUTH"):
        kw["password"] = os.environ["REDISCLI_AUTH"]
    return {k: v for k, v in kw.items() if v is not None or k == "driver_info"}


def password_of(url: str) -> str | None:
    try:
        kw = connection_kwargs(url, 1.0)
    except RedisUrlError:
        return None
    return kw.get("password")


def no_retry() -> Any:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # A dead host answers once: no retries that multiply the timeout. redis-py counts an authentication
    # error as a connection error, so its default retries slept 4.5 s on every NOAUTH.
    return Retry(NoBackoff(), 0)


def sync_client(url: str, timeout: float) -> Any:
    import redis as redis_py

    kw = connection_kwargs(url, timeout)
    kw["single_connection_client"] = True
    kw["retry"] = no_retry()
    return redis_py.Redis(**kw)
