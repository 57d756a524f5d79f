"""The demo's live traffic: while `make run` serves the demo, calls keep arriving as they
happen, so the last hour is never empty and the incidents keep happening.

The calls are the generator's (demo.traffic), one day at a time, each day a DemoTraffic ending
a day later with incidents of its own (a gateway failing in its last hour, an account's re-sent
orders in busy hours, ...). The first day goes on with the incidents of the moment the trickle
starts, which are those `generate_demo_data` placed when the demo was generated just before
(the gateway failure under way keeps failing, and its alert keeps firing). `due(now)` hands
out the calls whose time has come; `manage.py demo_trickle` sends them through the ingest
pipeline with the demo shipper's token every few seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from demo.traffic import DemoTraffic, incidents

DAY = timedelta(days=1)
# Shipment numbers of the trickle's day n start here (the generated history uses far fewer).
SEQ_PER_DAY = 10**6


class Trickle:
    def __init__(self, *, start: datetime, per_day: int, seed: int = 7, history_days: int = 14):
        self.start, self.per_day, self.seed = start, per_day, seed
        self.history_days = history_days
        self._calls = self._days()
        self._next: dict | None = None

    def _days(self) -> Iterator[dict]:
        day = 0
        while True:
            end = self.start + (day + 1) * DAY
            traffic = DemoTraffic(
                now=end,
                days=1,
                per_day=self.per_day,
                seed=self.seed + day + 1,
                first_seq=(day + 1) * SEQ_PER_DAY,
            )
            if day == 0:
                traffic.incidents = incidents(self.start, self.history_days)
            for call in traffic.records():
                if _time(call) >= self.start:
                    yield call
            day += 1

    def due(self, now: datetime) -> list[dict]:
        """The calls timed before `now` that were not handed out yet, in time order."""
        due: list[dict] = []
        while True:
            if self._next is None:
                self._next = next(self._calls)
            if _time(self._next) >= now:
                return due
            due.append(self._next)
            self._next = None


def _time(call: dict) -> datetime:
    return datetime.fromisoformat(call["timestamp"])
