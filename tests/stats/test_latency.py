"""A percentile from a merged histogram is within 5 % (or 1 ms) of the exact nearest-rank value
of the raw latencies, whatever the distribution; calls without a latency count for nothing."""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.latency import BOUNDS, TOP, bucket_of, encode
from stats.latency import (
    as_histogram,
    dense,
    fetch_stacked,
    merged,
    percentile,
    percentile_table,
    percentiles,
    rank,
)

TOP_BOUND = BOUNDS[-1]  # beyond it every latency is clamped into the last bucket
PERCENTILES = st.integers(min_value=10, max_value=999).map(lambda tenths: tenths / 10)


def exact(latencies: list[float | None], p: float) -> float | None:
    """The nearest-rank percentile, the slow obvious way."""
    values = sorted(v for v in latencies if v is not None)
    if not values:
        return None
    rank = max(1, math.ceil(Fraction(str(p)) * len(values) / 100))
    return values[rank - 1]


def from_histograms(latencies: list[float | None], p: float, parts: int) -> float | None:
    """The latencies bucketed in `parts` separate histograms (rollup rows), then merged."""
    chunks = [
        Counter(bucket_of(v) for v in latencies[i::parts] if v is not None) for i in range(parts)
    ]
    return percentile(merged(encode(dict(chunk)) for chunk in chunks), p)


def close_enough(got: float, want: float) -> bool:
    return abs(got - want) <= max(0.05 * want, 1.0)


lognormal = st.builds(
    lambda mu, sigma, zs: [min(math.exp(mu + sigma * z), TOP_BOUND) for z in zs],
    st.floats(min_value=0, max_value=8),
    st.floats(min_value=0.05, max_value=2.5),
    st.lists(st.floats(min_value=-4, max_value=4), min_size=1, max_size=300),
)
pareto = st.builds(  # a heavy tail: most calls fast, a few very slow
    lambda scale, alpha, us: [min(scale / (u ** (1 / alpha)), TOP_BOUND) for u in us],
    st.floats(min_value=1, max_value=500),
    st.floats(min_value=0.3, max_value=3),
    st.lists(st.floats(min_value=1e-6, max_value=1), min_size=1, max_size=300),
)
ties = st.builds(
    lambda value, n, extra: [value] * n + extra,
    st.floats(min_value=0, max_value=TOP_BOUND),
    st.integers(min_value=1, max_value=200),
    st.lists(st.floats(min_value=0, max_value=TOP_BOUND), max_size=20),
)
any_values = st.lists(st.floats(min_value=0, max_value=TOP_BOUND), min_size=1, max_size=300)
with_missing = st.builds(
    lambda values, gaps: values + [None] * gaps,
    st.one_of(lognormal, pareto, ties, any_values),
    st.integers(min_value=0, max_value=100),
)


@given(with_missing, PERCENTILES, st.integers(min_value=1, max_value=7), st.randoms())
def test_percentile_of_merged_histograms_is_within_5_percent_of_the_exact_one(
    latencies, p, parts, random
):
    random.shuffle(latencies)
    want = exact(latencies, p)
    got = from_histograms(latencies, p, parts)
    assert got is not None and want is not None
    assert close_enough(got, want), (got, want)


@given(st.floats(min_value=0, max_value=TOP_BOUND), PERCENTILES)
def test_a_single_call_is_every_percentile(latency, p):
    assert close_enough(from_histograms([latency], p, 1), latency)


def test_calls_without_latency_are_not_zero_ms():
    assert from_histograms([None, None, None, 800.0], 50, 2) == pytest.approx(800, rel=0.05)
    assert from_histograms([None, None], 50, 1) is None
    assert percentile({}, 95) is None


def test_the_rank_is_exact_integer_arithmetic():
    # 99.9 % of 1,000 calls is rank 999; a float product (0.999 * 1000) would make it 1,000.
    assert rank(99.9, 1000) == 999
    assert rank(33.3, 1000) == 333
    assert rank(50, 1) == rank(1, 1) == 1


# ---------------------------------------------------------------- many points at once (numpy)

HISTOGRAMS = st.lists(
    st.dictionaries(
        st.integers(min_value=0, max_value=TOP), st.integers(min_value=1, max_value=10**6)
    ),
    min_size=1,
    max_size=12,
)


@given(st.lists(st.tuples(st.integers(0, 5), HISTOGRAMS), min_size=1, max_size=8), st.data())
def test_every_percentile_of_every_point_at_once_equals_the_one_formula(rows, data):
    """`dense` adds stored histograms up per cell and `percentile_table` takes every percentile
    of every cell: the same answers as `merged` and `percentiles`, exactly."""
    ps = data.draw(st.lists(PERCENTILES, min_size=1, max_size=5))
    cells = [cell for cell, parts in rows for _ in parts]
    stored = [encode(part) for _, parts in rows for part in parts]
    counts = np.array([len(h) for h in stored], dtype=np.int64)
    elements = np.array([v for h in stored for v in h], dtype=np.int64)
    matrix = dense(np.array(cells), counts, elements, 6)
    calls, table = percentile_table(matrix, ps)
    for cell in range(6):
        histogram = merged(encode(part) for c, parts in rows if c == cell for part in parts)
        assert as_histogram(matrix[cell]) == histogram
        assert calls[cell] == sum(histogram.values())
        assert [column[cell] for column in table] == percentiles(histogram, ps)


@pytest.mark.django_db
def test_stored_histograms_are_read_in_binary_as_their_elements():
    """One row per key: the slots and element counts (int4[] read into numpy) and every
    histogram's elements sent one after another in binary, read back exactly."""
    rows = [(3, "a", {0: 3, 17: 1, TOP: 2**39}), (1, "a", {}), (2, "b", {5: 1}), (9, "a", {1: 2})]
    values = ", ".join(["(%s::int, %s, latency_hist_sent(%s::bigint[]))"] * len(rows))
    params = [v for slot, key, h in rows for v in (slot, key, encode(h))]
    stacks = {
        key: (slots.tolist(), counts.tolist(), elements.tolist())
        for key, slots, counts, elements in fetch_stacked(
            f"SELECT * FROM (VALUES {values}) AS v", params, keys=1, slotted=True
        )
    }
    assert stacks == {
        ("a",): (
            [3, 1, 9],
            [3, 0, 1],
            [*encode(rows[0][2]), *encode(rows[3][2])],
        ),
        ("b",): ([2], [1], encode({5: 1})),
    }
