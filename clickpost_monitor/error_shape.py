"""The API's one error shape, in plain Python (no Django: the ASGI layer refuses with it before
Django runs). clickpost_monitor.errors says where each error comes from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def error_body(
    message: str, *, fields: Mapping[str, Any] | None = None, retry_after: float | None = None
) -> dict[str, Any]:
    """`{"error": message, "detail": {field: [reasons]}}`, plus `retry_after` (seconds) when a
    Retry-After is sent; `detail` is `{}` when no field is at fault."""
    body: dict[str, Any] = {"error": message, "detail": dict(fields or {})}
    if retry_after is not None:
        body["retry_after"] = retry_after
    return body
