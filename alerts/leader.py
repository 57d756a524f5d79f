"""Which process evaluates, and which minutes: one leader per database (a PostgreSQL advisory
lock on a connection of its own), and the unclaimed minutes it catches up on.

- `Leadership` holds the lock on its own connection (not Django's, which a transaction error
  or a reconnect could drop). A standby process waits for the lock; when a leader dies its
  connection closes and the lock goes to the next.
- `due_minutes` lists the unclaimed minutes since the last claimed one, at most
  ALERTS_MAX_CATCHUP_MINUTES back (a leader down for a day does not replay the day).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta

import psycopg
from django.conf import settings
from django.db import connection

from alerts.models import Tick

log = logging.getLogger(__name__)
MINUTE = timedelta(minutes=1)
LOCK_KEY = 0x63706D5F616C7274 & 0x7FFFFFFFFFFFFFFF  # "cpm_alrt": one evaluator per database


def floor_minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def due_minutes(*, now: datetime) -> list[datetime]:
    """The minutes to evaluate at `now` (see the module docstring)."""
    current = floor_minute(now)
    oldest = current - (settings.ALERTS_MAX_CATCHUP_MINUTES - 1) * MINUTE
    last = Tick.objects.filter(minute__lte=current).order_by("-minute").first()
    first = max(oldest, last.minute + MINUTE) if last else current
    claimed = set(
        Tick.objects.filter(minute__gte=first, minute__lte=current).values_list("minute", flat=True)
    )
    minutes = []
    moment = first
    while moment <= current:
        if moment not in claimed:
            minutes.append(moment)
        moment += MINUTE
    return minutes


def database_dsn() -> str:
    """A libpq connection string for the lock connection, from Django's settings."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    params.pop("options", None)  # no statement_timeout on a connection that only waits
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v is not None})


class Leadership:
    """The advisory lock that makes one process the evaluator, on a dedicated connection."""

    def __init__(self) -> None:
        self._conn: psycopg.Connection | None = None

    def try_acquire(self) -> bool:
        """True when this process holds the lock (already or now)."""
        if self.holding():
            return True
        self.release()
        try:
            self._conn = psycopg.connect(database_dsn(), autocommit=True)
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()
        except psycopg.Error as error:
            log.warning("alert evaluator: cannot reach the database for the lock: %s", error)
            self.release()
            return False
        if not row or not row[0]:
            self.release()
            return False
        return True

    def holding(self) -> bool:
        """The lock's connection is alive (the lock goes with it)."""
        if self._conn is None or self._conn.closed:
            return False
        try:
            self._conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None
