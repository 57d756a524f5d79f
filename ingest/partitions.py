"""The raw events' daily partitions (UTC days): which exist, making them, dropping old ones.

`ingest_event` is partitioned by day so that retention drops whole tables (`prune_events`)
instead of deleting rows. Days are made ahead by `ensure_partitions` (daily) and after
`migrate`; the batch writer (`store.write_events`) makes a missing day itself, and remembers per
process which days exist so that a batch on known days asks nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

PARTITION_PREFIX = "ingest_event_p"
_PARTITION_LOCK = 7_140_001  # pg_advisory_xact_lock key: one partition creator at a time


# Days known to have a partition, per process: partitions are only dropped by retention (which
# forgets what it drops here) and, in another process, only beyond the horizon; a write that
# meets a missing one anyway forgets them all and tries once more (`write_events`).
_known_days: set[date] = set()


def partition_name(day: date) -> str:
    return f"{PARTITION_PREFIX}{day:%Y%m%d}"


def days_without_partition(days: Iterable[date]) -> set[date]:
    """The days among `days` that have no partition yet (no query when all are known)."""
    unknown = sorted(set(days) - _known_days)
    if not unknown:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d FROM unnest(%s::text[]) AS d WHERE to_regclass(d) IS NULL",
            [[partition_name(day) for day in unknown]],
        )
        missing = {name for (name,) in cursor.fetchall()}
    found = {day for day in unknown if partition_name(day) not in missing}
    _known_days.update(found)
    return set(unknown) - found


def ensure_partitions(days: Iterable[date]) -> None:
    """Create the daily partitions (UTC days) that do not exist yet; cheap when all do."""
    missing = days_without_partition(days)
    if missing:
        _create_partitions(sorted(missing))
        _known_days.update(missing)


def forget_known_partitions() -> None:
    _known_days.clear()


def _create_partitions(days: list[date]) -> None:
    # Serialized by an advisory lock so that two workers meeting the same new day don't race.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PARTITION_LOCK])
        for day in days:
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF ingest_event "
                "FOR VALUES FROM (%s) TO (%s)",
                [start, start + timedelta(days=1)],
            )


def ensure_partitions_ahead(*, days_ahead: int, days_back: int | None = None) -> None:
    """Partitions from `days_back` (default: the retention horizon, RETENTION_DAYS) before
    today to `days_ahead` after it, so the ingest path rarely has to run DDL itself, and any
    day inside the horizon is accepted whatever a batch spans (SPEC): the per-request limit on
    new partitions (pipeline) then only meets days this never made."""
    if days_back is None:
        days_back = settings.RETENTION_DAYS
    today = timezone.now().date()
    ensure_partitions(today + timedelta(days=n) for n in range(-days_back, days_ahead + 1))


def partition_days() -> list[date]:
    """The days that have a raw-event partition, oldest first."""
    return sorted(d for d, state in _partitions().items() if state == "attached")


def _partitions() -> dict[date, str]:
    """Each partition's day -> 'attached', 'pending' (an interrupted concurrent detach) or
    'detached' (a table left behind by a drop that did not finish)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, CASE WHEN i.inhdetachpending THEN 'pending' "
            "WHEN i.inhrelid IS NULL THEN 'detached' ELSE 'attached' END "
            "FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid "
            "WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace "
            "AND c.relname ~ %s",
            [f"^{PARTITION_PREFIX}[0-9]{{8}}$"],
        )
        rows = cursor.fetchall()
    return {
        datetime.strptime(name.removeprefix(PARTITION_PREFIX), "%Y%m%d").date(): state
        for name, state in rows
    }


def drop_partitions_before(day: date) -> list[date]:
    """Drop whole partitions of raw events older than `day` (UTC); rollups are kept.

    Outside a transaction a partition is detached CONCURRENTLY: that takes only a SHARE UPDATE
    EXCLUSIVE lock on `ingest_event`, so ingest and reads go on, and none of them queues behind
    the detach while it waits for a long query. Inside one (tests), a plain short DETACH.
    """
    how = "" if connection.in_atomic_block else " CONCURRENTLY"
    dropped = sorted((d, state) for d, state in _partitions().items() if d < day)
    for old, state in dropped:
        _known_days.discard(old)
        name = partition_name(old)
        with connection.cursor() as cursor:
            if state != "detached":
                finish = " FINALIZE" if state == "pending" else how
                cursor.execute(f"ALTER TABLE ingest_event DETACH PARTITION {name}{finish}")
            cursor.execute(f"DROP TABLE {name}")
    return [d for d, _ in dropped]
