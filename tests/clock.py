"""Time in the tests: no test depends on today's date.

Ingest refuses events older than RETENTION_DAYS (90) before now, so a literal date in test data
fails once the real date has moved on; `../shared/tools/future_clock.sh` runs the suite with the
clock shifted to show that none does (README: "Tests with the clock shifted"). Two ways, by what
a test is about:

- About real time (default windows such as "the last hour", the demo, a rule evaluated now):
  build the data relative to the real now, on whole UTC days or weeks so that bucket edges stay
  where the test expects them::

      from tests import clock
      day = clock.recent_day()          # 00:00 UTC, two days ago: whole, and inside the horizon
      monday = clock.weeks_ago(2)       # Monday 00:00 UTC of the ISO week two weeks back
      event = {"timestamp": clock.iso(day + timedelta(hours=3)), ...}

- About the calendar (Europe/London's 25-hour day, an ISO week, bytes captured with their
  times in them): keep the fixed moments and put the process's clock where they are recent::

      with clock.travel(datetime(2026, 11, 3, tzinfo=UTC)):
          ingest_items(...)             # accepted: 2026-10-25 is inside the horizon "now"

  `travel` moves Python's clock (time_machine, ticking from the destination) in this process
  only: PostgreSQL's now() stays the real one, so such a test must only exercise code that
  takes the time from Python (timezone.now(), as ingest's horizon and partitions do), and a
  server started in a subprocess gets the clock by `python -m tests.travelled` (below).
  `tests/read_dataset.py` (the read tests' October 2026 data set) is loaded and read this way:
  the `events` fixture travels to `read_dataset.NOW` for each test that asks for it.

Code that measures intervals with `time.monotonic()` (caches, leases, "recently fine") is
tested on a `MonotonicClock` that stands still until the test moves it: the `monotonic_clock`
fixture (tests/conftest.py) puts one in place of `time.monotonic` for the test::

      def test_a_lease_not_handed_out_in_time_is_given_up(monotonic_clock):
          ...
          monotonic_clock.now += ratelimit.LEASE_SECONDS
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import time_machine
from django.utils import timezone

# A subprocess started with this variable set to an RFC 3339 time runs with its clock there
# (tests/travelled.py); what `travel` sets for the servers a travelled test starts.
TRAVEL_ENV = "TEST_CLOCK_TRAVEL_TO"


def utc_day(moment: datetime) -> datetime:
    """00:00 UTC of the day `moment` falls on."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def recent_day(days_back: int = 2) -> datetime:
    """00:00 UTC `days_back` days before today (UTC): a whole day that has ended, well inside
    the retention horizon."""
    return utc_day(timezone.now()) - timedelta(days=days_back)


def weeks_ago(weeks: int) -> datetime:
    """Monday 00:00 UTC of the ISO week `weeks` weeks before the current one (0: this week)."""
    today = utc_day(timezone.now())
    return today - timedelta(days=today.weekday(), weeks=weeks)


def iso(moment: datetime) -> str:
    """RFC 3339 text in UTC with a Z, as shippers send it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@contextmanager
def travel(moment: datetime) -> Iterator[datetime]:
    """This process's clock at `moment` (aware), ticking on, inside the block."""
    if moment.tzinfo is None:
        raise ValueError("travel to an aware datetime")
    with time_machine.travel(moment, tick=True):
        yield moment


class MonotonicClock:
    """A stand-in for `time.monotonic`: reads `now` (seconds), which only the test moves."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
