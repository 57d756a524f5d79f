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


Rejections = dict[int, dict[str, list[str]]]


@dataclass(slots=True)
class IngestOutcome:
    """What became of a batch. `rejections` holds EVERY rejected item's field errors by its index
    (a door that answers per item, like Elasticsearch bulk, reads them all); the answer lists only
    the first 100 (`errors`), so a 10,000-event batch of junk does not answer megabytes."""

    accepted: int = 0
    duplicates: int = 0
    rejections: Rejections = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    @property
    def errors(self) -> list[dict]:
        """The listed rejections, lowest index first: at most MAX_LISTED_ERRORS."""
        listed = sorted(self.rejections)[:MAX_LISTED_ERRORS]
        return [{"index": index, "errors": self.rejections[index]} for index in listed]

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
    """Validate every item; the outcome keeps every rejected one's errors by index."""
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
            outcome.rejections[index] = invalid.errors
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
    if not outcome.rejections:
        return ""
    index = min(outcome.rejections)
    why = "; ".join(
        f"{name}: {', '.join(reasons)}" for name, reasons in outcome.rejections[index].items()
    )
    return f"{outcome.rejected} rejected; event {index}: {why}"


def record_refused_request(token_id: int | None, message: str) -> None:
    """A request refused as a whole (bad framing, too large) still shows on the token."""
    if token_id is not None:
        store.record_token_use(token_id, accepted=0, duplicates=0, rejected=0, error=message)
