"""The one ingest path: raw items -> clean events -> one stored batch -> the token's counts.

The generic endpoint and the protocol doors (OTLP, Loki, Elasticsearch bulk) all end here, so
validation, dedupe, rollups, limits and the per-token counts are the same whichever door a
shipper uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from ingest import store
from ingest.catalog import current_catalog
from ingest.events import CleanEvent, InvalidEvent, clean_event

MAX_LISTED_ERRORS = 100


@dataclass(frozen=True, slots=True)
class RawItem:
    """One record as a door found it, with what the door knows beside the record itself."""

    value: Any
    default_timestamp: datetime | None = None
    context: Mapping[str, Any] | None = None


@dataclass(slots=True)
class IngestOutcome:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": self.errors,
        }

    @property
    def all_rejected(self) -> bool:
        return self.rejected > 0 and self.accepted == 0 and self.duplicates == 0


def clean_items(
    items: Sequence[RawItem], *, now: datetime
) -> tuple[list[CleanEvent], IngestOutcome]:
    """Validate every item; the outcome lists the rejected ones by index (at most 100)."""
    catalog = current_catalog()
    clean: list[CleanEvent] = []
    outcome = IngestOutcome()
    for index, item in enumerate(items):
        try:
            clean.append(
                clean_event(
                    item.value,
                    now=now,
                    catalog=catalog,
                    default_timestamp=item.default_timestamp,
                    context=item.context,
                )
            )
        except InvalidEvent as invalid:
            outcome.rejected += 1
            if len(outcome.errors) < MAX_LISTED_ERRORS:
                outcome.errors.append({"index": index, "errors": invalid.errors})
    return clean, outcome


def ingest_items(items: Sequence[RawItem], *, token_id: int | None) -> IngestOutcome:
    """Validate and store a batch; valid events are stored in one transaction, all or none."""
    now = timezone.now()
    clean, outcome = clean_items(items, now=now)
    stored = store.write_events(clean, token_id=token_id, received_at=now)
    outcome.accepted, outcome.duplicates = stored.accepted, stored.duplicates
    if token_id is not None:
        store.record_token_use(
            token_id,
            accepted=outcome.accepted,
            duplicates=outcome.duplicates,
            rejected=outcome.rejected,
            error=_first_error(outcome),
        )
    return outcome


def _first_error(outcome: IngestOutcome) -> str:
    if not outcome.errors:
        return ""
    first = outcome.errors[0]
    why = "; ".join(f"{name}: {', '.join(reasons)}" for name, reasons in first["errors"].items())
    return f"{outcome.rejected} rejected; event {first['index']}: {why}"


def record_refused_request(token_id: int | None, message: str) -> None:
    """A request refused as a whole (bad framing, too large) still shows on the token."""
    if token_id is not None:
        store.record_token_use(token_id, accepted=0, duplicates=0, rejected=0, error=message)
