"""Masking of secrets: passwords in URLs, requirepass/masterauth values, tokens.

Ground floor: imports nothing of ours at load (the kinds' own secret keys are read on first use).
Everything that leaves the process (screen, journal, JSON, snapshots, exports) goes through these
functions.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "*****"

# Keys whose values are secrets in any kind and in our own inventories; each kind adds its own config keys
# (runbook/KIND/kind.py: secret_keys).
SECRET_KEYS = frozenset({"password", "pass", "token", "secret", "auth", "authorization"})


@functools.lru_cache(maxsize=1)
def _of_kinds() -> tuple[frozenset[str], tuple[str, ...], re.Pattern[str]]:
    """The kinds' secret config keys, the URL schemes where a lone user part is a password, and a pattern
    for a secret config line quoted back in free text (">>> 'requirepass \"x\"'")."""
    from runbook.kind import kinds

    keys = frozenset(k for kind in kinds() for k in kind.secret_keys)
    schemes = tuple(s for kind in kinds() for s in kind.password_user_schemes)
    words = "|".join(sorted((re.escape(k) for k in keys), key=len, reverse=True)) or "(?!)"
    pattern = re.compile(rf"(?im)((?:^|['\"]|--)[ \t]*(?:{words}))([ \t]+)(\"[^\"]*\"|'[^']*'|[^\s'\"]+|['\"][^\n]*)")
    return keys, schemes, pattern


_USER_LINE = re.compile(r"(?i)\buser[ \t]+\S+[ \t]+[^\n]*")
# >password, <password, #hash, !hash: bare after a space, or quoted whole ('">pass word"')
_USER_PASS = re.compile(r"""(?:(?<=\s)|(?<=\s["']))([<>#!])((?<=["'][<>#!])[^"'\n]*|[^\s"']+)""")
_URL_CRED = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:@/\s]*):(?P<pw>[^@/\s]+)@")


_QUERY_SECRET = re.compile(r"(?i)([?&](?:[a-z_]*(?:password|pass|auth|token|secret)[a-z_]*)=)([^&#\s]*)")


def mask_url(url: str) -> str:
    """redis://user:pw@host:6379/0 -> redis://user:*****@host:6379/0; unix:///s.sock?password=pw -> ...=*****."""
    if "=" in url and "?" in url:
        url = _QUERY_SECRET.sub(lambda m: f"{m[1]}{MASK}" if m[2] else m[0], url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_text(url)
    if parts.password is None:
        if parts.username and "@" in parts.netloc and parts.scheme.lower() in _of_kinds()[1]:
            # redis://secret@host: redis-py treats a lone user part as a password.
            host = parts.netloc.rsplit("@", 1)[1]
            return urlunsplit(parts._replace(netloc=f"{MASK}@{host}"))
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def mask_text(text: str, known: set[str] | frozenset[str] = frozenset()) -> str:
    """Mask credentials in URLs inside free text, and any known secret value."""
    if "@" in text:
        text = _URL_CRED.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    if "=" in text and "?" in text:
        text = _QUERY_SECRET.sub(lambda m: f"{m[1]}{MASK}" if m[2] else m[0], text)
    low = text.lower()
    if "pass" in low or "auth" in low:
        text = _of_kinds()[2].sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
    if "user " in low:  # ACL rules of a user line: >password, <password, #hash, !hash
        text = _USER_LINE.sub(lambda m: _USER_PASS.sub(lambda p: f"{p[1]}{MASK}", m[0]), text)
    for secret in sorted(known, key=len, reverse=True) if known else ():
        if secret and secret in text:
            text = text.replace(secret, MASK)
    return text


def mask_ssh_option(option: str) -> str:
    """An ssh -o option with its secrets masked: the values SetEnv gives to variables (REDISCLI_AUTH=...),
    and the value of any option whose name says it is a secret."""
    key, sep, value = option.partition("=")
    if not sep:
        key, _, value = option.partition(" ")
        sep = " "
    if key.strip().lower() == "setenv":
        return key + sep + " ".join(w.split("=", 1)[0] + "=" + MASK if "=" in w else w for w in value.split())
    return key + sep + MASK if is_secret_key(key.strip()) and value else option


def is_secret_flag(word: str) -> bool:
    """`--requirepass`, `--masterauth`...: a command-line option whose value (the next word) is a secret."""
    return word.startswith("--") and is_secret_key(word[2:])


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    k = key.lower()
    return k in SECRET_KEYS or k in _of_kinds()[0] or k.endswith(("pass", "password", "token", "secret"))


def mask_mapping(value: Any, known: set[str] | frozenset[str] = frozenset()) -> Any:
    """Deep copy of a JSON-like value with secret keys masked and known secrets replaced."""
    t = type(value)
    if t is str or isinstance(value, str):
        return mask_text(value, known)
    if t is dict or isinstance(value, dict):
        return {k: MASK if isinstance(k, str) and is_secret_key(k) and v not in (None, "", b"")
                else v if v is None or type(v) in _PLAIN else mask_mapping(v, known)
                for k, v in value.items()}
    if t is list or t is tuple or isinstance(value, (list, tuple)):
        return [v if v is None or type(v) in _PLAIN else mask_mapping(v, known) for v in value]
    return value


_PLAIN = frozenset({int, float, bool})  # nothing to mask: returned as they are
