"""The one ingest path: raw items -> clean events -> one stored batch -> the token's counts.

The generic endpoint and the protocol doors (OTLP, Loki, Elasticsearch bulk) all end here, so
validation, dedupe, rollups, limits and the per-token counts are the same whichever door a
shipper uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from ingest import partitions, store
from ingest.catalog import current_catalog
from ingest.events import CleanEvent, InvalidEvent, clean_event, retention_horizon

MAX_LISTED_ERRORS = 100


# Not frozen: one is made per event, and a frozen dataclass sets each field through
# object.__setattr__ (three times the cost). Nothing changes one after.
@dataclass(slots=True)
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
    clean, _, outcome = _clean_indexed(items, now=now)
    return clean, outcome


def _clean_indexed(
    items: Sequence[RawItem], *, now: datetime
) -> tuple[list[CleanEvent], list[int], IngestOutcome]:
    """The clean events, each one's index in `items` (a list beside them, not a pair per
    event: a thousand fewer objects for the garbage collector to follow) and the outcome."""
    catalog = current_catalog()
    horizon = retention_horizon(now)
    legacy_before = store.legacy_keys_before()
    clean: list[CleanEvent] = []
    indexes: list[int] = []
    outcome = IngestOutcome()
    for index, item in enumerate(items):
        try:
            event = clean_event(
                item.value,
                now=now,
                catalog=catalog,
                default_timestamp=item.default_timestamp,
                context=item.context,
                horizon=horizon,
                legacy_before=legacy_before,
            )
        except InvalidEvent as invalid:
            outcome.rejections[index] = invalid.errors
        else:
            clean.append(event)
            indexes.append(index)
    return clean, indexes, outcome


def ingest_items(items: Sequence[RawItem], *, token_id: int | None) -> IngestOutcome:
    """Validate and store a batch; valid events and the token's counts are stored in one
    transaction, all or none."""
    now = timezone.now()
    cleaned, indexes, outcome = _clean_indexed(items, now=now)
    clean = _within_new_day_budget(cleaned, indexes, outcome)
    use = None
    if token_id is not None:
        use = store.TokenUse(token_id, rejected=outcome.rejected, error=_first_error(outcome))
    stored = store.write_events(clean, token_id=token_id, received_at=now, token_use=use)
    outcome.accepted, outcome.duplicates = stored.accepted, stored.duplicates
    return outcome


def _within_new_day_budget(
    events: list[CleanEvent], indexes: list[int], outcome: IngestOutcome
) -> list[CleanEvent]:
    """The events to store: those on days with a partition, and on at most
    INGEST_MAX_NEW_PARTITIONS new days (the first the batch names); the others are rejected
    (by their `indexes` in the batch).

    Each new day is a table and seven indexes, which every unbounded query then locks: a batch
    spread over old days must not make hundreds (a backfill goes on in the next requests).
    """
    budget = settings.INGEST_MAX_NEW_PARTITIONS
    missing = partitions.days_without_partition({event.ts.date() for event in events})
    if len(missing) <= budget:
        return events
    allowed: set[date] = set()
    kept: list[CleanEvent] = []
    for index, event in zip(indexes, events, strict=True):
        day = event.ts.date()
        if day in missing and day not in allowed:
            if len(allowed) >= budget:
                outcome.rejections[index] = {"timestamp": [_over_day_budget(day, budget)]}
                continue
            allowed.add(day)
        kept.append(event)
    return kept


def _over_day_budget(day: date, budget: int) -> str:
    return (
        f"falls on {day.isoformat()}, a day not stored yet, and this request already starts"
        f" {budget} new days (INGEST_MAX_NEW_PARTITIONS): send it again in a later request"
    )


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
