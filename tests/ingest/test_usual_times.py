"""`times.usual_time`, the shortcut `to_time` takes for the usual RFC 3339 shape, reads a text
exactly as the full RFC 3339 reading does, or leaves it to that reading (None)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import times
from ingest.storable import Refused


def digits(count: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=count, max_size=count)


@st.composite
def usual_shapes(draw) -> str:
    """Texts of the usual shape, any digits: most are valid times, some are not (month 13)."""
    date = f"{draw(digits(4))}-{draw(digits(2))}-{draw(digits(2))}"
    clock = f"{draw(digits(2))}:{draw(digits(2))}:{draw(digits(2))}"
    fraction = draw(st.one_of(st.just(""), st.integers(1, 12).map(lambda n: "." + "7" * n)))
    offset = draw(
        st.one_of(
            st.just(""),
            st.just("Z"),
            st.builds(lambda s, h, m: f"{s}{h}:{m}", st.sampled_from("+-"), digits(2), digits(2)),
        )
    )
    return f"{date}{draw(st.sampled_from('T '))}{clock}{fraction}{offset}"


def full_reading(text: str) -> datetime | None:
    match = times._RFC3339.fullmatch(text)
    assert match is not None
    try:
        moment = times._from_match(match)
    except Refused:
        return None
    return None if moment < times.EPOCH else moment


@settings(max_examples=3000, deadline=None)
@given(usual_shapes())
def test_the_usual_shape_reads_as_the_full_reading(text):
    usual = times.usual_time(text)
    assert usual is None or usual == full_reading(text)
    if usual is None:  # left to the full reading, which then refuses it
        assert full_reading(text) is None


@pytest.mark.parametrize(
    "text", [" 2026-03-02T10:00:00Z", "2026-03-02t10:00:00z", "20260302T100000Z"]
)
def test_other_shapes_are_left_to_the_full_reading(text):
    assert times.usual_time(text) is None


@settings(max_examples=1000, deadline=None)
@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)))
def test_to_time_takes_the_shortcut_only_inside_the_range(moment):
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    horizon = now - timedelta(days=90)
    text = moment.isoformat() + "Z"
    expected = moment.replace(tzinfo=UTC)
    if horizon <= expected <= now + times.MAX_FUTURE:
        assert times.to_time(text, now=now, horizon=horizon) == expected
    else:
        with pytest.raises(Refused):
            times.to_time(text, now=now, horizon=horizon)
