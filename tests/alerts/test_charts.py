"""The /alerts/ page's replay chart (alerts/charts.py): which groups it draws."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from alerts.charts import MAX_GROUPS, rule_figure

RULE = SimpleNamespace(
    tz="UTC", direction="above", metric="error_rate", group_by="cp_id", threshold=0.3
)
T0 = datetime(2026, 12, 1, tzinfo=UTC)


def points(*values: float) -> list[tuple[datetime, float]]:
    return [(T0 + timedelta(minutes=15 * i), v) for i, v in enumerate(values)]


def test_the_groups_that_would_have_fired_come_before_one_minute_spikes():
    series = {(n,): points(0.0, 1.0, 0.0) for n in range(10, 10 + MAX_GROUPS)}  # spikes
    series[(4,)] = points(0.5, 0.6, 0.55)  # under way for the whole replay: it fired
    firings = [{"group": {"cp_id": 4}, "fired_at": T0, "resolved_at": None, "severity": "critical"}]

    figure = rule_figure(RULE, {"series": series, "firings": firings})

    names = [trace["name"] for trace in figure["data"]]
    assert len(names) == MAX_GROUPS
    assert names[0] == "cp_id 4"
