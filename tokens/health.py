"""Ingest health per token: "is my shipper working?"

The counts are kept at ingest by `ingest.store` (in the batch's transaction), so this is one
small query over the token table, never a count of events. The Shippers page, the
`/api/v1/tokens/` endpoint and `list_tokens` all read their status from here.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from tokens.models import ApiToken

STATUS_REVOKED = "revoked"
STATUS_UNUSED = "unused"
STATUS_ERRORS = "errors"
STATUS_OK = "ok"


class TokenHealth(TypedDict):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None
    accepted: int
    duplicates: int
    rejected: int
    last_used_at: datetime | None
    last_error: str
    last_error_at: datetime | None
    status: str


def token_health() -> list[TokenHealth]:
    """Every token by name, without its secret or digest; times are aware (UTC).

    `accepted`, `duplicates` and `rejected` count events since the token was made. `status` is
    "revoked"; "unused" (never used); "errors" when its last request had a rejected event or was
    refused whole (bad body, too large: `last_error` says which); else "ok".
    """
    return [_health(token) for token in ApiToken.objects.order_by("name")]


def token_status(token: ApiToken) -> str:
    if not token.is_active:
        return STATUS_REVOKED
    if token.last_used_at is None:
        return STATUS_UNUSED
    # store.record_token_use stamps both with the same time when a request carries an error.
    if token.last_error_at is not None and token.last_error_at >= token.last_used_at:
        return STATUS_ERRORS
    return STATUS_OK


def _health(token: ApiToken) -> TokenHealth:
    return TokenHealth(
        id=token.pk,
        name=token.name,
        prefix=token.prefix,
        scopes=sorted(token.scope_set),
        created_at=token.created_at,
        revoked_at=token.revoked_at,
        accepted=token.accepted,
        duplicates=token.duplicates,
        rejected=token.rejected,
        last_used_at=token.last_used_at,
        last_error=token.last_error,
        last_error_at=token.last_error_at,
        status=token_status(token),
    )
