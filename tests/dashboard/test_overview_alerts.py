"""The overview opens with what is firing now, and its chart marks when alerts fired: evaluated
by the real evaluator over traffic stored through the pipeline."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from alerts.evaluator import evaluate_minute
from alerts.models import Rule
from tests.dashboard.test_pages import figure, plain_static_storage, traffic, user_client

__all__ = ["plain_static_storage", "traffic", "user_client"]  # fixtures used by name


def fire_courier_alerts() -> None:
    """Courier 4 has 3 failures in 4 calls of the last hour and courier 5 one in two: both over
    an error rate of 20 %."""
    Rule.objects.create(
        name="Courier failing", metric="error_rate", group_by="cp_id", window_minutes=60,
        threshold=0.2, min_calls=1, min_errors=1, tz="Asia/Kolkata",
    )  # fmt: skip
    evaluate_minute(timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=1))


def test_the_overview_opens_with_the_alerts_firing_now(user_client, traffic):
    fire_courier_alerts()

    page = user_client.get("/").content.decode()

    banner = page[page.index('aria-label="Alerts firing now"') :]
    assert "Firing now" in banner and "(2)" in banner
    assert banner.index("Courier failing") < banner.index("All alerts")
    assert page.index("Alerts firing now") < page.index('id="rate-figure"')


def test_the_rate_chart_marks_when_each_alert_fired(user_client, traffic):
    fire_courier_alerts()

    layout = figure(user_client.get("/?range=24h"), "rate_figure")["layout"]

    assert len(layout["shapes"]) == 2
    hovers = sorted(a["hovertext"] for a in layout["annotations"])
    assert hovers == ["Courier failing fired: Blue Dart", "Courier failing fired: Delhivery"]


def test_no_banner_and_no_marks_when_nothing_fired(user_client, traffic):
    response = user_client.get("/")

    assert "Alerts firing now" not in response.content.decode()
    assert "shapes" not in figure(response, "rate_figure")["layout"]
