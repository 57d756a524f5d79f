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


def test_the_legend_sits_above_the_plot_and_the_axes_are_titled_in_the_unit():
    series = {(4,): points(0.1, 0.5), (5,): points(0.2, 0.3)}
    names = {4: "Delhivery", 5: "Blue Dart"}
    figure = rule_figure(RULE, {"series": series, "firings": []}, name_of=lambda d, v: names[v])
    layout = figure["layout"]
    assert [t["name"] for t in figure["data"]] == ["Delhivery", "Blue Dart"]
    assert layout["legend"]["y"] >= 1 and layout["legend"]["yanchor"] == "bottom"
    assert layout["margin"]["t"] > 20  # the legend's own room, not the plot's
    assert layout["yaxis"]["title"]["text"] == "error rate (%)"
    assert layout["xaxis"]["title"]["text"] == "time (UTC)"
    assert layout["annotations"][0]["text"] == "threshold 30.0 %"


def test_the_replay_reads_in_words():
    from alerts.charts import replay_words

    end = T0 + timedelta(days=14)
    assert replay_words([], days=14, end=end) == "would not have fired in 14 days"
    firings = [
        {"fired_at": T0, "resolved_at": T0 + timedelta(hours=3)},
        {"fired_at": T0 + timedelta(days=2), "resolved_at": T0 + timedelta(days=2, minutes=45)},
    ]
    assert (
        replay_words(firings, days=14, end=end)
        == "would have fired 2 times in 14 days, longest 3 h"
    )
    still = [{"fired_at": end - timedelta(minutes=90), "resolved_at": None}]
    assert replay_words(still, days=1, end=end) == (
        "would have fired once in 1 day, longest 1 h 30 min, and would be firing now"
    )
