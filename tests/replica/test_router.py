"""The replica router's rules without a replica: the lag verdict, the per-process check cache,
which tables may be read from a copy, and the read scope and read-your-writes pin the
middleware sets. The live behaviour is tests/replica/test_streaming_replica.py."""

from __future__ import annotations

import logging

import pytest
from django.apps import apps
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpResponse, StreamingHttpResponse
from django.test import RequestFactory

from stats import replica
from stats.replica import (
    PRIMARY,
    REPLICA,
    ReplicaHealth,
    ReplicaReadsMiddleware,
    ReplicaRouter,
    ReplicaStatus,
    judge,
    lsn_number,
)


def status(**fields) -> ReplicaStatus:
    values = dict(
        in_recovery=True,
        replay_lsn=100,
        replayed_all_received=False,
        receiving=True,
        replay_age_seconds=2.0,
    )
    return ReplicaStatus(**{**values, **fields})


def test_lsn_numbers_order_like_wal_positions():
    assert lsn_number("0/FFFFFFFF") < lsn_number("1/0") < lsn_number("1/A")
    assert lsn_number("16/B374D848") == (0x16 << 32) + 0xB374D848
    assert lsn_number(None) is None


def test_an_idle_caught_up_replica_has_no_lag_however_old_its_last_replay():
    idle = status(replayed_all_received=True, replay_age_seconds=3600.0)
    assert idle.lag_seconds() == 0.0
    assert judge(idle, max_lag_seconds=30).healthy
    never_replayed = status(replayed_all_received=True, replay_age_seconds=None)
    assert judge(never_replayed, max_lag_seconds=30).healthy


def test_a_replica_cut_off_from_the_primary_is_judged_by_its_last_replay():
    cut_off = status(replayed_all_received=True, receiving=False, replay_age_seconds=3600.0)
    verdict = judge(cut_off, max_lag_seconds=30)
    assert not verdict.healthy and "3600.0 s is over REPLICA_MAX_LAG_SECONDS=30" in verdict.reason
    assert not judge(status(receiving=False, replay_age_seconds=None), max_lag_seconds=30).healthy


def test_lag_at_the_limit_is_healthy_and_over_it_is_not():
    assert judge(status(replay_age_seconds=30.0), max_lag_seconds=30).healthy
    assert not judge(status(replay_age_seconds=30.5), max_lag_seconds=30).healthy
    assert judge(status(), max_lag_seconds=30).replay_lsn == 100


def test_a_server_not_in_recovery_is_not_used_as_a_replica():
    verdict = judge(status(in_recovery=False, replayed_all_received=True), max_lag_seconds=30)
    assert not verdict.healthy and "not in recovery" in verdict.reason


class Probe:
    """A stand-in for the replica's status query: returns `answer`, or raises it."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.calls = 0

    def __call__(self) -> ReplicaStatus:
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_the_verdict_is_cached_for_the_check_interval(settings):
    settings.REPLICA_CHECK_SECONDS = 60
    probe = Probe(status())
    health = ReplicaHealth(check=probe)
    assert all(health.verdict().healthy for _ in range(5))
    assert probe.calls == 1
    health.forget()
    health.verdict()
    assert probe.calls == 2


def test_switches_are_logged_once_each_way(settings, caplog):
    settings.REPLICA_CHECK_SECONDS = 0
    settings.REPLICA_MAX_LAG_SECONDS = 30
    probe = Probe(status())
    health = ReplicaHealth(check=probe)
    with caplog.at_level(logging.INFO, logger="stats.replica"):
        for answer in [status(), status(), OSError("connection refused\nmore"), status()]:
            probe.answer = answer
            health.verdict()
        probe.answer = status(replay_age_seconds=45.0)
        health.verdict()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "reading from the replica (replica lag 2.0 s)"),
        ("WARNING", "reading from the primary: replica unreachable: connection refused"),
        ("INFO", "reading from the replica (replica lag 2.0 s)"),
        (
            "WARNING",
            "reading from the primary: replica lag 45.0 s is over REPLICA_MAX_LAG_SECONDS=30",
        ),
    ]


def test_only_the_read_rooms_tables_may_be_read_from_the_replica(monkeypatch):
    monkeypatch.setattr(replica, "replica_configured", lambda: True)
    router = ReplicaRouter()
    with replica.replica_reads() as scope:
        scope.alias = REPLICA  # as if chosen at the request's first read
        on_replica = {
            model._meta.db_table
            for model in apps.get_models()
            if router.db_for_read(model) == REPLICA
        }
        assert all(router.db_for_write(model) == PRIMARY for model in apps.get_models())
    assert on_replica == {
        "ingest_event",
        "ingest_courier",
        "ingest_rollup_category",
        "ingest_rollup_code",
        "ingest_rollup_courier",
        "ingest_rollup_account",
        "ingest_rollup_code_daily",
        "ingest_rollup_courier_daily",
        "ingest_rollup_account_daily",
        "ingest_rollup_latency_endpoint",
        "ingest_rollup_latency_courier",
    }
    assert router.allow_migrate(REPLICA, "ingest") is False
    assert router.allow_migrate(PRIMARY, "ingest") is None


def test_outside_a_read_scope_everything_reads_the_primary():
    event = apps.get_model("ingest", "Event")
    assert replica.read_alias() == PRIMARY
    assert ReplicaRouter().db_for_read(event) == PRIMARY


class Recorder:
    """A view that notes the read scope it ran in (and, streamed, the scope of each chunk)."""

    def __init__(self, *, streaming: bool = False) -> None:
        self.streaming = streaming
        self.scopes: list = []

    def __call__(self, request) -> HttpResponse:
        self.scopes.append(replica._scope.get())
        if not self.streaming:
            return HttpResponse("ok")
        return StreamingHttpResponse(self._chunks())

    def _chunks(self):
        for n in range(3):
            self.scopes.append(replica._scope.get())
            yield f"{n}\n".encode()


def _request(method: str, path: str, session: SessionStore):
    request = getattr(RequestFactory(), method)(path)
    request.session = session
    return request


@pytest.mark.django_db
def test_a_write_by_a_session_pins_its_next_reads_to_the_primarys_position():
    session = SessionStore()
    session["user"] = "ops"
    session.create()
    ReplicaReadsMiddleware(Recorder())(_request("post", "/admin/ingest/courier/1/change/", session))
    pin = session[replica.SESSION_PIN]
    assert 0 < pin <= replica.primary_wal_lsn()

    view = Recorder()
    ReplicaReadsMiddleware(view)(_request("get", "/", session))
    assert [scope.pin_lsn for scope in view.scopes] == [pin]


@pytest.mark.django_db
def test_a_write_without_a_session_pins_nothing():
    session = SessionStore()  # never saved: a token client
    ReplicaReadsMiddleware(Recorder())(_request("post", "/api/v1/events/", session))
    assert replica.SESSION_PIN not in session


def test_gets_read_in_a_scope_and_the_admin_and_writes_do_not():
    cases = [("get", "/", True), ("get", "/admin/", False), ("post", "/", False)]
    for method, path, scoped in cases:
        view = Recorder()
        ReplicaReadsMiddleware(view)(_request(method, path, SessionStore()))
        assert (view.scopes[0] is not None) is scoped, (method, path)


def test_a_streamed_body_is_read_in_its_requests_scope():
    view = Recorder(streaming=True)
    request = _request("get", "/api/v1/reports/weekly/", SessionStore())
    response = ReplicaReadsMiddleware(view)(request)
    assert replica._scope.get() is None  # the view returned; the body is not read yet
    assert b"".join(response.streaming_content) == b"0\n1\n2\n"
    first, *chunks = view.scopes
    assert first is not None and chunks == [first] * 3
    assert replica._scope.get() is None
