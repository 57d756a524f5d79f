"""The latency bucket function exists twice, in Python (ingest.latency.bucket_of) and in SQL
(latency_bucket, migration 0007); they agree on every value, bounds and their neighbours too,
and the SQL merge of two stored histograms is their bucket-by-bucket sum, whether the PL/pgSQL
function or the batch statement's shortcut for a batch histogram of one bucket does it."""

from __future__ import annotations

import math
from collections import Counter

from django.db import connection
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest import latency, store

EDGES = [
    value
    for bound in latency.BOUNDS
    for value in (math.nextafter(bound, 0), bound, math.nextafter(bound, math.inf))
]
SPECIAL = [0.0, 0.5, 1.0, 599_999.0, 600_000.0, 6e9, math.inf]


def sql_buckets(values: list[float]) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT latency_bucket(v) FROM unnest(%s::double precision[]) WITH ORDINALITY "
            "AS t(v, i) ORDER BY i",
            [values],
        )
        return [bucket for (bucket,) in cursor.fetchall()]


def test_python_and_sql_buckets_agree_at_every_bound_and_beside_it(db):
    values = EDGES + SPECIAL
    assert sql_buckets(values) == [latency.bucket_of(v) for v in values]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.floats(min_value=0, max_value=1e7, allow_nan=False), min_size=1))
def test_python_and_sql_buckets_agree_on_any_latency(db, values):
    assert sql_buckets(values) == [latency.bucket_of(v) for v in values]


def test_buckets_are_eight_per_doubling_clamped_at_both_ends():
    assert latency.bucket_of(0) == latency.bucket_of(0.99) == 0
    assert latency.bucket_of(1) == 1
    assert latency.bucket_of(2) == 1 + latency.PER_DOUBLING
    assert latency.bucket_of(600_000) == latency.bucket_of(1e12) == latency.TOP
    assert latency.BOUNDS[-1] < 600_000 < latency.BOUNDS[-1] * 2 ** (1 / 8)


def test_sql_merge_adds_two_histograms_bucket_by_bucket(db):
    a, b = {3: 5, 40: 1, 154: 2}, {40: 7, 41: 1}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT latency_hist_merge(%s::bigint[], %s::bigint[])",
            [latency.encode(a), latency.encode(b)],
        )
        (stored,) = cursor.fetchone()
    assert stored == latency.encode(dict(Counter(a) + Counter(b)))
    assert latency.decode(stored) == {3: 5, 40: 8, 41: 1, 154: 2}


histograms = st.dictionaries(
    st.integers(min_value=0, max_value=latency.TOP), st.integers(min_value=1, max_value=10**9)
)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(histograms, histograms)
def test_sql_merge_is_the_bucket_by_bucket_sum_of_any_two_histograms(db, a, b):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT latency_hist_merge(%s::bigint[], %s::bigint[])",
            [latency.encode(a), latency.encode(b)],
        )
        (stored,) = cursor.fetchone()
    assert stored == latency.encode(dict(Counter(a) + Counter(b)))


# A batch of a few events adds a histogram of one bucket (or none) to most rollup rows: the
# shortcut's case, drawn often; larger ones go to the function.
batch_histograms = st.one_of(
    st.dictionaries(
        st.integers(min_value=0, max_value=latency.TOP),
        st.integers(min_value=1, max_value=10**9),
        max_size=1,
    ),
    histograms,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(histograms, batch_histograms)
@example({3: 5, 40: 1, 154: 2}, {40: 7})  # added to its bucket, in the middle
@example({3: 5, 40: 1}, {3: 1})  # to the first
@example({3: 5, 40: 1}, {154: 1})  # inserted last
@example({3: 5, 40: 1}, {0: 1})  # first
@example({3: 5, 40: 1}, {7: 1})  # between
@example({}, {7: 1})  # into a row of calls without a latency
@example({3: 5}, {})  # a batch of calls without one
@example({}, {})
def test_the_batch_statements_merge_is_the_sql_function_array_for_array(db, stored, added):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m, m::text, array_lower(m, 1), f::text FROM ("
            f"SELECT {store.merged_histogram('x.stored', 'x.added')} AS m, "
            "latency_hist_merge(x.stored, x.added) AS f "
            "FROM (SELECT %s::bigint[] AS stored, %s::bigint[] AS added) AS x) AS merged",
            [latency.encode(stored), latency.encode(added)],
        )
        merged, as_text, lower, by_function = cursor.fetchone()
    assert merged == latency.encode(dict(Counter(stored) + Counter(added)))
    assert as_text == by_function  # the same array, bounds included
    assert lower in (1, None)
