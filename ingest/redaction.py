"""Secrets out of an event before anything is hashed or stored.

A redacted value is "[REDACTED]"; null and "" are kept (they hide nothing and show that the key
was missing). Secret keys (`key`, `api_key`, `password`, `authorization`, `*_token`, ...) lose
their value at any depth; inside strings, `key=...` URL/form parameters, `"key": ...` pairs of
stringified JSON and `Bearer ...` credentials do too.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from ingest.storable import MAX_DEPTH, Refused, json_problem, key_problem, text_problem

REDACTED = "[REDACTED]"

_SECRET_NAMES = frozenset(
    {
        "key",
        "api_key",
        "apikey",
        "x_api_key",
        "password",
        "passwd",
        "pwd",
        "token",
        "access_token",
        "refresh_token",
        "auth_token",
        "secret",
        "client_secret",
        "security_key",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "private_key",
        "credentials",
    }
)
_SECRET_SUFFIXES = ("_key", "_token", "_secret", "_password")
# name=value in URLs, form bodies and log text; the name must start at a word boundary.
_QUERY_PAIR = re.compile(r"(?<![\w.\-])([\w.\-]+)=([^&#\s\"'<>]+)")
# "name": value inside JSON that arrived as a string (a stringified request body).
_JSON_PAIR = re.compile(r'"([\w.\-]+)"(\s*:\s*)("(?:[^"\\]|\\.)*"|[^\s,}\]]+)')
_BEARER = re.compile(r"\b(bearer)\s+[\w.~+/\-]+=*", re.IGNORECASE)
# accessToken -> access_Token: camelCase names are read as their snake_case spelling.
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Names repeat from event to event; longer strings are worked out, not cached.
CACHED_CHARS = 256


def redact(value: Any) -> Any:
    """A copy of a JSON value with secrets at any depth replaced by "[REDACTED]"."""
    return redacted(value, depth=1, check=False)


def redacted(value: Any, *, depth: int, check: bool) -> Any:
    """`redact(value)` for a value inside `depth` containers. With `check`, the same walk raises
    Refused when storable.json_problem would find a problem (the caller asks it which), so that
    a valid field is checked and redacted at once.
    """
    if isinstance(value, str):
        if check and text_problem(value):
            raise Refused
        return redact_text(value)
    if isinstance(value, list):
        if check and depth >= MAX_DEPTH:
            raise Refused
        return [redacted(item, depth=depth + 1, check=check) for item in value]
    if isinstance(value, dict):
        if check and depth >= MAX_DEPTH:
            raise Refused
        return _redacted_mapping(value, depth=depth, check=check)
    if check and json_problem(value, depth=depth):
        raise Refused
    return value


def is_secret_name(name: Any) -> bool:
    """`API-Key`, `x_api_key`, `clientSecret`, `http.request.header.authorization`: all secret."""
    if not isinstance(name, str):
        return False
    if len(name) <= CACHED_CHARS:
        return _cached_is_secret_text(name)
    return _is_secret_text(name)


def redact_text(text: str) -> str:
    if "=" in text:
        text = _QUERY_PAIR.sub(_redact_query_pair, text)
    if '"' in text:
        text = _JSON_PAIR.sub(_redact_json_pair, text)
    # A Bearer credential is at least 8 characters; lower() is much cheaper than the regex.
    if len(text) >= 8 and "bearer" in text.lower():
        text = _BEARER.sub(_redact_bearer, text)
    return text


def _is_secret_text(name: str) -> bool:
    text = name.strip()
    if not text.islower():  # only a name with capitals can be camelCase
        text = _CAMEL_HUMP.sub("_", text)
    normal = text.lower().replace("-", "_").rsplit(".", 1)[-1]
    return normal in _SECRET_NAMES or normal.endswith(_SECRET_SUFFIXES)


_cached_is_secret_text = lru_cache(maxsize=4096)(_is_secret_text)


def _redacted_mapping(mapping: dict, *, depth: int, check: bool) -> dict:
    """Secret keys lose their value; so does `value` in {"name": "api_key", "value": ...}."""
    names_secret = is_secret_name(mapping.get("name")) or is_secret_name(mapping.get("key"))
    kept = {}
    for key, value in mapping.items():
        if check and key_problem(key):
            raise Refused
        secret = is_secret_name(key) or (names_secret and key == "value")
        if secret and value is not None and value != "":
            if check and json_problem(value, depth=depth + 1):
                raise Refused
            kept[key] = REDACTED
        else:
            kept[key] = redacted(value, depth=depth + 1, check=check)
    return kept


def _redact_bearer(match: re.Match[str]) -> str:
    return f"{match.group(1)} {REDACTED}"


def _redact_query_pair(match: re.Match[str]) -> str:
    name = match.group(1)
    return f"{name}={REDACTED}" if is_secret_name(name) else match.group(0)


def _redact_json_pair(match: re.Match[str]) -> str:
    name, colon, value = match.groups()
    if not is_secret_name(name) or value in ("null", '""'):
        return match.group(0)
    return f'"{name}"{colon}"{REDACTED}"'
