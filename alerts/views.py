"""The /alerts/ page: firing now, rules with their last day replayed as a chart, channels,
silences, mute windows and the history. Thin: selectors and services compute, charts draws;
labels read as names (a courier's name, not its cp_id) and values in the metric's unit.
Staff see the buttons of alerts.pages; everyone else the same page without them."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from alerts import selectors, services
from alerts.charts import group_text, rule_figure
from alerts.forms import ZONES, matchers_text
from alerts.metrics import format_value, group_words, metric
from alerts.models import Channel, MuteWindow, Rule, Silence
from alerts.pages import SILENCE_HOURS
from alerts.values import labels_of

log = logging.getLogger(__name__)
HISTORY_ROWS = 50
MAX_CHARTS = 12  # each chart replays a day of its rule: a page of many rules charts the first
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@login_required
def alerts_page(request: HttpRequest) -> HttpResponse:
    rules = list(Rule.objects.prefetch_related("channels").order_by("-enabled", "name"))
    alerts = list(selectors.alerts_now())
    silences = list(Silence.objects.filter(end__gt=timezone.now()).select_related("rule"))
    history = list(selectors.history()[:HISTORY_ROWS])
    channels = list(Channel.objects.all())
    routed = [{k: v} for c in channels for k, vs in (c.matchers or {}).items() for v in vs]
    name_of = selectors.label_namer(
        [a.labels for a in alerts]
        + [s.matchers for s in silences]
        + [t.labels for t in history]
        + routed
    )
    context = {
        "nav": "alerts",
        "can_act": request.user.is_staff,
        "zone": settings.TIME_ZONE,
        "zones": list(dict.fromkeys([*ZONES, settings.TIME_ZONE])),
        "silence_hours": SILENCE_HOURS,
        "weekdays": list(enumerate(WEEKDAYS)),
        "alerts": [_alert_row(a, name_of) for a in alerts],
        "rules": [_rule_row(rule, chart=n < MAX_CHARTS) for n, rule in enumerate(rules)],
        "channels": [
            {
                "channel": c,
                "failure": selectors.last_failure(c),
                "routes": matchers_text(c.matchers, name_of),
            }
            for c in channels
        ],
        "silences": [{"silence": s, "what": group_text(s.matchers, name_of)} for s in silences],
        "mute_windows": [
            {"window": w, "days": ", ".join(WEEKDAYS[d] for d in w.days if d in range(7))}
            for w in MuteWindow.objects.select_related("rule")
        ],
        "history": [_history_row(t, name_of) for t in history],
    }
    return render(request, "alerts/alerts.html", context)


def _alert_row(alert: Any, name_of: Any) -> dict[str, Any]:
    return {
        "alert": alert,
        "group": group_text(alert.labels, name_of),
        "value": format_value(alert.rule.metric, alert.value),
        "threshold": format_value(alert.rule.metric, alert.rule.threshold),
    }


def _history_row(transition: Any, name_of: Any) -> dict[str, Any]:
    return {
        "t": transition,
        "group": group_text(transition.labels, name_of),
        "value": transition.value_text,  # "no calls" for a group whose calls stopped
    }


def _rule_row(rule: Rule, *, chart: bool) -> dict[str, Any]:
    figure = _figure(rule) if chart else None
    return {
        "rule": rule,
        "metric": metric(rule.metric).label,
        "per": group_words(rule.group_by),
        "threshold": format_value(rule.metric, rule.threshold),
        "warning": None if rule.warning is None else format_value(rule.metric, rule.warning),
        "figure": figure,
        "figure_id": f"rule-figure-{rule.pk}",
    }


def _figure(rule: Rule) -> dict | None:
    """The rule's last day replayed (enabled rules only: a page must stay quick)."""
    if not rule.enabled:
        return None
    try:
        replayed = services.preview_series(rule, days=1)
        names = selectors.label_namer(labels_of(rule.group_by, key) for key in replayed["series"])
        return rule_figure(rule, replayed, name_of=names)
    except Exception:  # noqa: BLE001 - one rule's chart must not take the page down
        log.exception("preview chart of rule %s failed", rule.pk)
        return None
