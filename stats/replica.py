"""Reads from a streaming replica (`DATABASE_REPLICA_URL`) while it is healthy and fresh.

Who reads where:

- the primary (`default`): every write; ingest, alerts, tokens, sessions, auth, the rate-limit
  cache and the code catalog (ingest tags events with it, so it never comes from a copy); and
  every read outside a *read scope*: management commands, the alert evaluator, POSTs.
- the replica (`replica`), inside a read scope only: the read room's tables (raw events, the
  rollups, courier names) through `ReplicaRouter`, and the read room's raw SQL through
  `read_connection()`. `ReplicaReadsMiddleware` opens a read scope for each GET or HEAD request
  outside the admin, so pages, the read API and the weekly report read from the replica.

A request decides once, at its first read, and keeps that database to its end (a page never
mixes numbers from two databases). It takes the replica when all of these hold:

- the last health check (at most `REPLICA_CHECK_SECONDS` old, per process) found it in
  recovery and its replay lag at most `REPLICA_MAX_LAG_SECONDS`;
- it has replayed this session's last write (read your writes: after a POST, PUT, PATCH or
  DELETE with a session, the session keeps the primary's WAL position; until the replica's
  replay position passes it, this session reads the primary: the token just made, the rule
  just saved, the courier just renamed in the admin);
- its connection answers (Django's per-request health check, then a connect): a replica that
  stopped between two checks is noticed by the next request, which reads the primary.

Replay lag is `now() - pg_last_xact_replay_timestamp()`, except when the replica has replayed
all it received and its WAL receiver is streaming: then it is 0. The timestamp alone would grow
without bound while the primary is idle (no commit to replay), and a caught-up replica would
look stale. The rule over-estimates in one case: the first WAL after a long idle period, until
it is replayed (milliseconds), which errs towards the primary. When the account cannot see
`pg_stat_wal_receiver`'s status (it needs pg_read_all_stats), a receiver process counts as
streaming.

Each switch between the databases is logged once per process (logger
`stats.replica`): a WARNING when reads move to the primary, with the reason, and
an INFO when they return to the replica.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

REPLICA = "replica"
PRIMARY = DEFAULT_DB_ALIAS
# The read room's tables: what pages, the read API and reports read in bulk. Everything else
# (tokens, the catalog, sessions, auth, the cache, alerts) is read from the primary.
REPLICA_TABLES = frozenset({"ingest_event", "ingest_courier"})
REPLICA_TABLE_PREFIX = "ingest_rollup_"
# Paths whose GETs still read the primary: the admin is where rows are edited.
PRIMARY_PATHS = ("/admin/",)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_PIN = "replica_pin_lsn"

logger = logging.getLogger(__name__)

_STATUS_SQL = """
    SELECT pg_is_in_recovery(),
           pg_last_wal_replay_lsn()::text,
           coalesce(pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), false),
           EXISTS (SELECT FROM pg_stat_wal_receiver
                    WHERE coalesce(status, 'streaming') = 'streaming'),
           extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8
"""


def lsn_number(lsn: str | None) -> int | None:
    """A PostgreSQL WAL position ('16/B374D848') as a number that orders like the position."""
    if not lsn:
        return None
    high, low = lsn.split("/")
    return (int(high, 16) << 32) | int(low, 16)


@dataclass(frozen=True)
class ReplicaStatus:
    """What the replica says about itself (one row of `_STATUS_SQL`)."""

    in_recovery: bool
    replay_lsn: int | None
    replayed_all_received: bool
    receiving: bool
    replay_age_seconds: float | None

    def lag_seconds(self) -> float | None:
        """Seconds of replay lag; None when unknown (nothing replayed yet)."""
        if self.replayed_all_received and self.receiving:
            return 0.0
        return self.replay_age_seconds


@dataclass(frozen=True)
class Verdict:
    """The outcome of one health check: whether reads may go to the replica, and why."""

    healthy: bool
    reason: str
    replay_lsn: int | None = None


def judge(status: ReplicaStatus, *, max_lag_seconds: float) -> Verdict:
    """Healthy when the replica is a standby whose replay lag is known and within the limit."""
    if not status.in_recovery:
        return Verdict(False, "the replica is not in recovery (promoted, or not a standby)")
    lag = status.lag_seconds()
    if lag is None:
        return Verdict(False, "the replica has replayed no transaction yet")
    if lag > max_lag_seconds:
        return Verdict(
            False, f"replica lag {lag:.1f} s is over REPLICA_MAX_LAG_SECONDS={max_lag_seconds:g}"
        )
    return Verdict(True, f"replica lag {lag:.1f} s", status.replay_lsn)


def _query_status() -> ReplicaStatus:
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(_STATUS_SQL)
        in_recovery, replay_lsn, replayed_all, receiving, age = cursor.fetchone()
    return ReplicaStatus(in_recovery, lsn_number(replay_lsn), replayed_all, receiving, age)


def _forget_connection() -> None:
    """Drop this thread's replica connection after a failure, so the next use reconnects."""
    with contextlib.suppress(Exception):
        connections[REPLICA].close()


class ReplicaHealth:
    """The last verdict on the replica, re-checked at most every `check_seconds` (per process).

    `check` is the probe (a function returning a ReplicaStatus); any exception it raises means
    "unreachable". Thread-safe: gthread workers share one verdict.
    """

    def __init__(self, *, check: Callable[[], ReplicaStatus] = _query_status) -> None:
        self._check = check
        self._lock = threading.Lock()
        self._verdict: Verdict | None = None
        self._checked_at = float("-inf")

    def verdict(self) -> Verdict:
        with self._lock:
            if self._verdict is not None and time.monotonic() - self._checked_at < _check_seconds():
                return self._verdict
        try:
            verdict = judge(self._check(), max_lag_seconds=_max_lag_seconds())
        except Exception as error:  # any failure of the probe means: read from the primary
            _forget_connection()
            verdict = Verdict(False, f"replica unreachable: {_first_line(error)}")
        self._record(verdict)
        return verdict

    def mark_down(self, error: BaseException) -> None:
        """The replica failed between checks: read from the primary until the next check."""
        _forget_connection()
        self._record(Verdict(False, f"replica unreachable: {_first_line(error)}"))

    def _record(self, verdict: Verdict) -> None:
        with self._lock:
            before, self._verdict, self._checked_at = self._verdict, verdict, time.monotonic()
        if before is not None and before.healthy == verdict.healthy:
            return
        if verdict.healthy:
            logger.info("reading from the replica (%s)", verdict.reason)
        else:
            logger.warning("reading from the primary: %s", verdict.reason)

    def forget(self) -> None:
        """Check again at the next read (tests; a deploy that swapped the replica)."""
        with self._lock:
            self._verdict, self._checked_at = None, float("-inf")


health = ReplicaHealth()


def _check_seconds() -> float:
    return float(getattr(settings, "REPLICA_CHECK_SECONDS", 5))


def _max_lag_seconds() -> float:
    return float(getattr(settings, "REPLICA_MAX_LAG_SECONDS", 30))


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


@dataclass
class ReadScope:
    """One request's reads: the WAL position its session must see, and the database chosen."""

    pin_lsn: int | None = None
    alias: str | None = None


_scope: ContextVar[ReadScope | None] = ContextVar("replica_read_scope", default=None)


@contextlib.contextmanager
def replica_reads(scope: ReadScope | None = None) -> Iterator[ReadScope]:
    """Reads of the read room inside this block may come from the replica."""
    scope = scope or ReadScope()
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def _replica_usable(pin_lsn: int | None) -> bool:
    verdict = health.verdict()
    if not verdict.healthy:
        return False
    if pin_lsn is not None and (verdict.replay_lsn or 0) < pin_lsn:
        return False  # this session wrote something the replica had not replayed at the check
    connection = connections[REPLICA]
    try:
        connection.close_if_health_check_failed()
        connection.ensure_connection()
    except Exception as error:
        health.mark_down(error)
        return False
    return True


def read_alias() -> str:
    """The database this request's read-room queries go to: `replica` or `default`."""
    scope = _scope.get()
    if scope is None or not replica_configured():
        return PRIMARY
    if scope.alias is None:
        scope.alias = REPLICA if _replica_usable(scope.pin_lsn) else PRIMARY
    return scope.alias


def read_connection() -> BaseDatabaseWrapper:
    """The connection for the read room's raw SQL (`stats/`): the replica inside a read scope
    while it is healthy, fresh and has this session's writes; else the primary. A database
    router never sees raw cursors, so `stats` asks here instead of using `django.db.connection`.
    """
    return connections[read_alias()]


def _reads_replica_tables(model: type[models.Model]) -> bool:
    table = model._meta.db_table
    return table in REPLICA_TABLES or table.startswith(REPLICA_TABLE_PREFIX)


class ReplicaRouter:
    """ORM reads of the read room's tables follow `read_alias()`; everything else, and every
    write and migration, goes to the primary. An explicit answer for every model, so a related
    object (an event's token) never follows its parent onto the replica."""

    def db_for_read(self, model: type[models.Model], **hints: Any) -> str:
        return read_alias() if _reads_replica_tables(model) else PRIMARY

    def db_for_write(self, model: type[models.Model], **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # one database: the replica is a copy of the primary

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db == REPLICA else None  # a standby is read-only; WAL brings the schema


def primary_wal_lsn() -> int | None:
    """The primary's current WAL position: every commit so far is at or before it."""
    with connections[PRIMARY].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return lsn_number(cursor.fetchone()[0])


def _stream_within(scope: ReadScope, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """A streamed body (the weekly CSV) produced inside the request's read scope: its rows are
    read while the server sends it, after the view and this middleware have returned."""
    while True:
        with replica_reads(scope):
            chunk = next(chunks, None)
        if chunk is None:
            return
        yield chunk


class ReplicaReadsMiddleware:
    """A read scope for each GET/HEAD outside the admin; a read-your-writes pin after a write.

    Installed by settings only when DATABASE_REPLICA_URL is set. Sits after the session and
    authentication middleware (it reads and writes the session).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in SAFE_METHODS:
            response = self.get_response(request)
            self._pin_session(request)
            return response
        if request.path_info.startswith(PRIMARY_PATHS):
            return self.get_response(request)
        session = getattr(request, "session", None)
        scope = ReadScope(pin_lsn=session.get(SESSION_PIN) if session is not None else None)
        with replica_reads(scope):
            response = self.get_response(request)
        if isinstance(response, StreamingHttpResponse):
            response.streaming_content = _stream_within(scope, iter(response.streaming_content))
        return response

    @staticmethod
    def _pin_session(request: HttpRequest) -> None:
        """After a write by a session (login, admin, a form), remember the primary's WAL
        position so this session's next pages wait for the replica to replay it."""
        session = getattr(request, "session", None)
        if session is None or session.session_key is None:
            return  # token clients have no session; their reads may lag by the replica's lag
        try:
            session[SESSION_PIN] = primary_wal_lsn()
        except Exception:
            logger.exception("could not read the primary's WAL position; reads stay unpinned")
