"""The /alerts/ page: firing now, rules with their last day replayed as a chart, silences,
mute windows and the history. Thin: selectors and services compute, charts draws."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from alerts import selectors, services
from alerts.charts import rule_figure
from alerts.models import MuteWindow, Rule, Silence

log = logging.getLogger(__name__)
HISTORY_ROWS = 50
MAX_CHARTS = 12  # each chart replays a day of its rule: a page of many rules charts the first


@login_required
def alerts_page(request: HttpRequest) -> HttpResponse:
    rules = list(Rule.objects.prefetch_related("channels").order_by("-enabled", "name"))
    context = {
        "nav": "alerts",
        "alerts": list(selectors.alerts_now()),
        "rules": [
            {
                "rule": rule,
                "figure": _figure(rule) if n < MAX_CHARTS else None,
                "figure_id": f"rule-{rule.pk}",
            }
            for n, rule in enumerate(rules)
        ],
        "silences": Silence.objects.filter(end__gt=timezone.now()).select_related("rule"),
        "mute_windows": MuteWindow.objects.select_related("rule"),
        "history": selectors.history()[:HISTORY_ROWS],
    }
    return render(request, "alerts/alerts.html", context)


def _figure(rule: Rule) -> dict | None:
    """The rule's last day replayed (enabled rules only: a page must stay quick)."""
    if not rule.enabled:
        return None
    try:
        return rule_figure(rule, services.preview_series(rule, days=1))
    except Exception:  # noqa: BLE001 - one rule's chart must not take the page down
        log.exception("preview chart of rule %s failed", rule.pk)
        return None
