"""The open-failure state equals a brute-force recomputation from the stored events: after
ingest in random batches (late, duplicate and out-of-order arrivals), after the backfill, after
pruning, and when two connections write the same reference at once."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import open_failures, partitions, store
from ingest.catalog import SEED_BY_CODE
from ingest.events import CleanEvent
from ingest.models import CodeEntry, OpenFailureDismissal

# (code, is_error): a success, a benign "already done", two failures.
OUTCOMES = [(200, False), (303, True), (316, True), (503, True)]
REFS = [("o1", ""), ("o2", "w9"), ("", "w1"), ("", "w2"), ("", "")]
ENDPOINTS = ["order_create", "tracking_register"]
STATE = (
    "is_open, decided_ts, decided_id, closed_ts, closed_id, first_failed_at, attempts, code, "
    "cp_id, courier, account_code, order_id, waybill"
)


def call(
    at: datetime, code: int, *, order_id: str = "o1", waybill: str = "", key: str, **more
) -> CleanEvent:
    info = SEED_BY_CODE[code]
    return CleanEvent(
        ts=at,
        endpoint=more.get("endpoint", "order_create"),
        http_status=200,
        code=code,
        category=info.category,
        is_error=code != 200,
        cp_id=more.get("cp_id", 7),
        courier="Delhivery",
        waybill=waybill,
        order_id=order_id,
        account_code="acme",
        message="",
        latency_ms=None,
        request=None,
        response=None,
        extra={},
        event_key=key,
    )


def stored_state() -> dict[tuple, tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT endpoint, ref_kind, ref, {STATE}, stale FROM ingest_open_failure")
        rows = cursor.fetchall()
    assert not any(row[-1] for row in rows), "a stale row survived its transaction"
    return {row[:3]: row[3:-1] for row in rows}


def brute_force() -> dict[tuple, tuple]:
    """The state, from the stored events one reference at a time, in Python."""
    benign = set(CodeEntry.objects.filter(benign=True).values_list("code", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT endpoint, order_id, waybill, ts, id, is_error, code, coalesce(cp_id, 0), "
            "courier, account_code FROM ingest_event ORDER BY ts, id"
        )
        calls = cursor.fetchall()
    by_ref: dict[tuple, list] = {}
    for endpoint, order_id, waybill, *rest in calls:
        if order_id:
            key = (endpoint, "order", order_id)
        elif waybill:
            key = (endpoint, "waybill", waybill)
        else:
            continue
        by_ref.setdefault(key, []).append((order_id, waybill, *rest))
    state = {}
    for key, history in by_ref.items():
        closes = [c for c in history if not c[4] or c[5] in benign]
        last_close = closes[-1] if closes else None
        streak = history[history.index(last_close) + 1 :] if last_close else history
        order_id, waybill, ts, id_, is_error, code, cp_id, courier, account = history[-1]
        state[key] = (
            bool(streak) and streak[-1] is history[-1],
            ts,
            id_,
            last_close[2] if last_close else None,
            last_close[3] if last_close else None,
            streak[0][2] if streak else None,
            len(streak),
            code,
            cp_id,
            courier,
            account,
            order_id,
            waybill,
        )
    return state


histories = st.lists(
    st.tuples(
        st.sampled_from(REFS),
        st.sampled_from(ENDPOINTS),
        st.integers(0, 12),  # minutes: few enough that timestamps tie
        st.integers(0, 2),  # days: calls in several partitions, for the rebuild's lower bound
        st.sampled_from(OUTCOMES),
    ),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    history=histories,
    order=st.randoms(use_true_random=False),
    cuts=st.lists(st.integers(1, 40), max_size=8),
    repeats=st.lists(st.integers(0, 39), max_size=6),
)
@pytest.mark.django_db
def test_incremental_state_and_backfill_equal_the_brute_force(history, order, cuts, repeats):
    base = timezone.now().replace(microsecond=0) - timedelta(days=3)
    calls = [
        call(
            base + timedelta(days=d, minutes=m),
            code,
            order_id=o,
            waybill=w,
            endpoint=e,
            key=f"k{i}",
        )
        for i, ((o, w), e, m, d, (code, _)) in enumerate(history)
    ]
    # Arrival: a random order, with retries (the same event again) in later batches.
    arrival = calls[:]
    order.shuffle(arrival)
    arrival += [calls[i % len(calls)] for i in repeats]
    bounds = sorted({c % len(arrival) for c in cuts} | {0, len(arrival)})
    partitions.forget_known_partitions()
    with transaction.atomic():
        for start, end in zip(bounds, bounds[1:], strict=False):
            store.write_events(arrival[start:end], token_id=None)
        expected = brute_force()
        assert stored_state() == expected
        with connection.cursor() as cursor:
            open_failures.rebuild_all(cursor.cursor)
        assert stored_state() == expected
        transaction.set_rollback(True)


@pytest.fixture
def committed():
    """Raw events are an unmanaged table that the test flush leaves alone: empty it after."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE ingest_event")


@pytest.mark.django_db
def test_a_late_success_splits_the_streak_and_a_late_failure_joins_it():
    t = timezone.now().replace(microsecond=0) - timedelta(hours=2)
    minute = timedelta(minutes=1)
    store.write_events([call(t, 503, key="a"), call(t + 4 * minute, 503, key="b")], token_id=None)
    store.write_events([call(t + 6 * minute, 316, key="c")], token_id=None)
    (state,) = stored_state().values()
    assert state[0] is True and state[5] == t and state[6] == 3 and state[7] == 316
    store.write_events([call(t + 2 * minute, 200, key="late-ok")], token_id=None)
    (state,) = stored_state().values()
    assert state[0] is True and state[5] == t + 4 * minute and state[6] == 2
    store.write_events([call(t + 3 * minute, 500, key="late-fail")], token_id=None)
    (state,) = stored_state().values()
    assert state[5] == t + 3 * minute and state[6] == 3 and state[7] == 316
    store.write_events([call(t - minute, 200, key="older-ok")], token_id=None)
    assert stored_state() == brute_force()
    store.write_events([call(t + 7 * minute, 303, key="done")], token_id=None)
    (state,) = stored_state().values()
    assert state[0] is False and state[6] == 0
    assert stored_state() == brute_force()


@pytest.mark.django_db
def test_events_without_a_reference_are_not_references():
    t = timezone.now() - timedelta(minutes=5)
    store.write_events([call(t, 503, order_id="", waybill="", key="x")], token_id=None)
    assert stored_state() == {}


@pytest.mark.django_db
def test_pruning_keeps_the_state_equal_to_the_events_left():
    today = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    old = today - timedelta(days=3)
    store.write_events(
        [
            call(old, 503, key="1"),
            call(today - timedelta(hours=1), 503, key="2"),
            call(old, 503, order_id="gone", key="3"),
            call(old, 200, order_id="closed", key="4"),
            call(today - timedelta(hours=2), 503, order_id="closed", key="5"),
        ],
        token_id=None,
    )
    for through, ref in ((old, "gone"), (today - timedelta(hours=1), "o1")):
        OpenFailureDismissal.objects.create(
            endpoint="order_create", ref_kind="order", ref=ref, through_ts=through,
            through_id=1, dismissed_at=today, dismissed_by="ops", note="handled",
        )  # fmt: skip
    partitions.drop_partitions_before((today - timedelta(days=1)).date())
    state = stored_state()
    assert state == brute_force()
    assert state[("order_create", "order", "o1")][6] == 1
    assert ("order_create", "order", "gone") not in state
    # A dismissal through a pruned call goes with it; one through a call left stays.
    assert list(OpenFailureDismissal.objects.values_list("ref", flat=True)) == ["o1"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_connections_writing_one_reference_end_in_the_right_state(committed):
    """A holds its batch open while B's batch for the same order waits on the state row; B's
    late success splits the streak A made, so B recomputes from raw events that include A's."""
    t = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    minute = timedelta(minutes=1)
    store.write_events([call(t, 200, key="ok"), call(t + minute, 503, key="f1")], token_id=None)
    partitions.ensure_partitions([t.date(), (t + 10 * minute).date()])
    a_wrote = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def batch_a():
        try:
            with transaction.atomic():
                store.write_events(
                    [call(t + 5 * minute, 503, key="f2"), call(t + 9 * minute, 316, key="f3")],
                    token_id=None,
                )
                a_wrote.set()
                release.wait(10)
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    def batch_b():
        try:
            store.write_events([call(t + 7 * minute, 200, key="late-ok")], token_id=None)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    a = threading.Thread(target=batch_a)
    a.start()
    assert a_wrote.wait(10)
    b = threading.Thread(target=batch_b)
    b.start()
    time.sleep(0.5)  # B is now waiting on the row A locked
    assert b.is_alive()
    release.set()
    a.join(10)
    b.join(10)
    assert errors == []
    (state,) = stored_state().values()
    assert state == brute_force()[("order_create", "order", "o1")]
    assert state[0] is True and state[5] == t + 9 * minute and state[6] == 1
