"""Folding the rollups' stripes (ingest.rollups) changes no sum: after any history of batches,
each in a stripe of its own, and a fold at any moment, every rollup still equals the counts of
the raw rows computed in Python; settled buckets keep one row per key, current ones are left."""

from __future__ import annotations

from datetime import UTC, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import partitions, rollups, store
from tests.ingest.test_store import (
    LATENCY_DIMENSIONS,
    ROLLUP_DIMENSIONS,
    assert_rollups_equal_raw_counts,
    clean,
    latency_contents,
    rollup_contents,
)


def rows_by_stripe(table: str, *, before) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT part = 0, count(*) FROM {table} WHERE bucket < %s GROUP BY 1", [before]
        )
        return {"folded" if folded else "striped": n for folded, n in cursor.fetchall()}


def contents() -> dict[str, dict]:
    return {t: rollup_contents(t) for t in ROLLUP_DIMENSIONS} | {
        t: latency_contents(t) for t in LATENCY_DIMENSIONS
    }


@pytest.mark.django_db
def test_a_fold_keeps_every_sum_and_one_row_per_settled_key():
    now = timezone.now().astimezone(UTC).replace(microsecond=0)
    ages = [timedelta(days=3), timedelta(hours=3), timedelta(minutes=5)]
    # The same keys in four batches, so in four stripes (tests/conftest.py), at three ages.
    for batch in range(4):
        at = [now - age - timedelta(seconds=batch * 10) for age in ages]
        events = [clean(t - timedelta(seconds=n), n) for t in at for n in range(12)]
        store.write_events(events, token_id=None)
    before = contents()
    assert rows_by_stripe("ingest_rollup_courier", before=now)["striped"] > 0

    folded = rollups.compact(now=now)

    assert contents() == before
    assert_rollups_equal_raw_counts()
    assert sum(folded.values()) > 0
    for f in rollups.FOLDINGS:  # settled buckets: stripe 0 alone
        assert "striped" not in rows_by_stripe(f.table, before=now - f.settled), f.table
    # The current quarter hour is left to its writers.
    assert rows_by_stripe("ingest_rollup_code", before=now + timedelta(hours=1))["striped"] > 0
    assert sum(rollups.compact(now=now).values()) == 0  # nothing left to fold


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(
        st.lists(st.tuples(st.integers(0, 4 * 24 * 60), st.integers(0, 40)), max_size=15),
        min_size=1,
        max_size=6,
    ),
    fold_after=st.integers(0, 6),
    hours_later=st.integers(0, 72),
)
@pytest.mark.django_db
def test_folds_at_any_moment_leave_the_rollups_equal_to_the_raw_rows(
    batches, fold_after, hours_later
):
    now = timezone.now().astimezone(UTC).replace(microsecond=0)
    partitions.forget_known_partitions()
    with transaction.atomic():
        for i, batch in enumerate(batches):
            if i == fold_after:
                rollups.compact(now=now - timedelta(hours=hours_later))
            store.write_events(
                [clean(now - timedelta(minutes=minutes), n) for minutes, n in batch],
                token_id=None,
            )
        rollups.compact(now=now + timedelta(hours=hours_later))
        assert_rollups_equal_raw_counts()
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_the_fold_command_folds_once_and_says_how_many_rows():
    old = timezone.now().astimezone(UTC).replace(microsecond=0) - timedelta(days=3)
    for batch in range(3):
        events = [clean(old - timedelta(seconds=batch * 10 + n), n) for n in range(8)]
        store.write_events(events, token_id=None)
    before = contents()
    out = StringIO()
    call_command("fold_rollups", "--once", stdout=out)
    folded = int(out.getvalue().split()[1])
    assert folded > 0 and contents() == before
    for f in rollups.FOLDINGS:
        assert "striped" not in rows_by_stripe(f.table, before=old + timedelta(days=1)), f.table
