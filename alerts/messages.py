"""The message a transition sends: what, where, how bad, since when, what to do, the link.

`build_message` runs inside the evaluation (its reads are the same minute's), and the result
is stored on each outbox row, so a retry an hour later sends what was true when it happened.
`message["body"]` is SPEC's webhook body exactly; the other keys feed the other channels.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from alerts.values import FILTER_FIELDS, filters_of, group_key
from dashboard.links import Drill
from ingest.models import CodeEntry
from stats.latency import format_ms
from stats.questions import labeler
from stats.window import Filters
from stats.windowed import window_counts

METRIC_WORDS = {
    "error_rate": "error rate",
    "errors": "errors",
    "calls": "calls",
    "change": "error rate change vs last week",
    "anomaly": "unusual error rate",
    "latency": "latency",
}


def dedup_key(rule_id: int | None, labels: dict[str, Any]) -> str:
    """One key per rule and group: PagerDuty closes the incident the trigger opened."""
    digest = hashlib.sha256(group_key(labels).encode()).hexdigest()[:16]
    return f"cpm-rule-{rule_id or 0}-{digest}"


def where_text(labels: dict[str, Any]) -> str:
    """The group in words: 'cp_id 7 (Delhivery)', or 'all calls' without a group."""
    if not labels:
        return "all calls"
    dim, key = next(iter(labels.items()))
    label = labeler(dim, [key])(key)
    return f"{dim} {key} ({label})" if str(label) != str(key) else f"{dim} {key}"


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if metric == "error_rate":
        return f"{value:.2%}"
    if metric == "change":
        return f"{value:+.1f}%"
    if metric == "anomaly":
        return f"p={value:.2g}"
    if metric == "latency":
        return format_ms(value)
    return f"{value:,.0f}"


def group_filters(rule: Any, labels: dict[str, Any]) -> Filters:
    """The rule's filters narrowed to the group: the events behind this alert."""
    narrow = {dim: (value,) for dim, value in labels.items() if dim in FILTER_FIELDS}
    return filters_of(rule).narrowed(**narrow)


def events_url(rule: Any, labels: dict[str, Any], *, at: datetime) -> str:
    """The drill-down events page for the alert's window, as a chart click builds it."""
    drill = Drill(
        filters=group_filters(rule, labels),
        tz=ZoneInfo(rule.tz),
        start=at - timedelta(minutes=rule.window_minutes),
        end=at,
    )
    return settings.ALERTS_BASE_URL + drill.url()


def top_code_action(rule: Any, labels: dict[str, Any], *, at: datetime) -> tuple[int | None, str]:
    """The code with most errors in the alert's window and the catalog's action hint for it."""
    rows = window_counts(
        start=at - timedelta(minutes=rule.window_minutes),
        end=at,
        filters=group_filters(rule, labels),
        group=("code",),
    )
    failing = [(errors, key[0]) for key, (_, errors) in rows.items() if errors]
    if not failing:
        return None, ""
    code = max(failing)[1]
    entry = CodeEntry.objects.filter(code=code).first()
    if entry is None:
        return code, f"Code {code} is not in the catalog: look it up and add it in the admin."
    return code, f"{code} {entry.meaning}: {entry.action}".strip().rstrip(":")


def build_message(
    *,
    rule: Any,
    labels: dict[str, Any],
    kind: str,
    at: datetime,
    value: float | None,
    severity: str,
    summary: str,
    started_at: datetime | None,
) -> dict[str, Any]:
    """The stored message of one notification (see the module docstring)."""
    status = "resolved" if kind == "resolved" else "firing"
    code, action = top_code_action(rule, labels, at=at)
    where = where_text(labels)
    body = {
        "status": status,
        "rule": {"id": rule.id, "name": rule.name, "metric": rule.metric},
        "group": labels,
        "value": value,
        "threshold": rule.threshold,
        "severity": severity or "critical",
        "summary": summary,
        "started_at": started_at.isoformat() if started_at else None,
        "resolved_at": at.isoformat() if status == "resolved" else None,
        "dedup_key": dedup_key(rule.id, labels),
        "url": events_url(rule, labels, at=at),
    }
    verb = {"resolved": "Resolved", "repeat": "Still firing", "test": "Test"}.get(kind, "Firing")
    title = f"[{verb}] {rule.name}: {where}"
    line = (
        f"{METRIC_WORDS.get(rule.metric, rule.metric)} {format_value(rule.metric, value)} "
        f"vs threshold {format_value(rule.metric, rule.threshold)} ({body['severity']})"
    )
    since = (
        started_at.astimezone(ZoneInfo(rule.tz)).strftime("%Y-%m-%d %H:%M %Z") if started_at else ""
    )
    return {
        "kind": kind,
        "title": title,
        "where": where,
        "how_bad": line,
        "since": since,
        "top_code": code,
        "action": action,
        "body": body,
    }


def message_text(message: dict[str, Any]) -> str:
    """The message as plain text lines (e-mail body, Slack's fallback text)."""
    body = message["body"]
    lines = [
        message["title"],
        f"What: {body['rule']['name']} ({body['rule']['metric']})",
        f"Where: {message['where']}",
        f"How bad: {message['how_bad']}",
        f"Summary: {body['summary']}",
    ]
    if message.get("since"):
        lines.append(f"Since: {message['since']}")
    if body.get("resolved_at"):
        lines.append(f"Resolved at: {body['resolved_at']}")
    if message.get("action"):
        lines.append(f"What to do: {message['action']}")
    lines.append(f"Events: {body['url']}")
    return "\n".join(lines)
