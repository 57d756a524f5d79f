"""The message a notification sends: what, where, how bad, since when, what to do, the link.

Pure functions of what the evaluation read (no query here): the evaluator reads the catalog,
the courier names and each group's top code once per minute (`Facts`) and hands them over, so
the message says what was true at that minute, and a retry an hour later sends the same text
(the message is stored on the outbox row).

One message tells one group (`each`, or a rule without a group) or every group of a rule that
changed together in one minute (`together`): `message["body"]` is SPEC's webhook body exactly
(with `alerts: [...]` for a grouped message); the other keys feed the other channels.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from alerts.labels import identity, where_text
from alerts.metrics import format_value, metric
from alerts.values import filters_of, group_key
from stats.links import Drill
from stats.questions import courier_label

SHOWN_GROUPS = 20  # chat messages list this many groups, then "and N more"
REASON_WORDS = {"no data": "no calls", "rule disabled": "rule disabled",
                "rule deleted": "rule deleted", "rule edited": "rule edited"}  # fmt: skip


@dataclass(frozen=True)
class Facts:
    """What one evaluated minute read besides the counts: the catalog's words for codes, the
    couriers' names, the benign codes."""

    meanings: dict[int, tuple[str, str]] = field(default_factory=dict)  # code -> meaning, action
    couriers: dict[int, str] = field(default_factory=dict)
    benign: frozenset[int] = frozenset()


def named(labels: dict[str, Any], facts: Facts) -> dict[str, Any]:
    """A group's labels with names: {"cp_id": 4} -> {"cp_id": 4, "courier": "Delhivery"}."""
    if "cp_id" in labels:
        return labels | {"courier": courier_label(int(labels["cp_id"]), facts.couriers)}
    return dict(labels)


def dedup_key(rule_id: int | None, labels: dict[str, Any]) -> str:
    """One key per rule and group: PagerDuty closes the incident the trigger opened."""
    digest = hashlib.sha256(group_key(identity(labels)).encode()).hexdigest()[:16]
    return f"cpm-rule-{rule_id or 0}-{digest}"


def rule_dedup_key(rule_id: int | None) -> str:
    """One key per rule (`together`): one incident for the rule's groups."""
    return f"cpm-rule-{rule_id or 0}"


def group_filters(rule: Any, labels: dict[str, Any]):
    """The rule's filters narrowed to the group: the events behind this alert."""
    narrow = {dim: (value,) for dim, value in identity(labels).items()}
    return filters_of(rule).narrowed(**narrow)


def events_url(
    rule: Any, labels: dict[str, Any], *, at: datetime, codes: tuple[int, ...] = ()
) -> str:
    """The drill-down events page for the alert's window, as a chart click builds it; with
    benign codes left out, the link lists the codes that were counted."""
    filters = group_filters(rule, labels)
    if getattr(rule, "exclude_benign", False) and codes:
        filters = filters.narrowed(code=codes)
    drill = Drill(
        filters=filters,
        tz=ZoneInfo(rule.tz),
        start=at - timedelta(minutes=rule.window_minutes),
        end=at,
    )
    return settings.ALERTS_BASE_URL + drill.url()


def action_text(code: int | None, facts: Facts) -> str:
    """The catalog's hint for the group's top failing code."""
    if code is None:
        return ""
    if code not in facts.meanings:
        return f"Code {code} is not in the catalog: look it up and add it in the admin."
    meaning, action = facts.meanings[code]
    return f"{code} {meaning}: {action}".strip().rstrip(":")


@dataclass(frozen=True)
class Alert:
    """One group's change, as a message tells it."""

    labels: dict[str, Any]  # with names
    status: str  # firing | resolved
    kind: str  # firing | escalated | repeat | resolved | test
    value: float | None
    severity: str
    summary: str
    started_at: datetime | None
    at: datetime
    url: str
    top_code: int | None = None
    action: str = ""
    reason: str = ""  # why a resolve happened when not by the value: "no data", "rule deleted"


def alert_of(
    rule: Any,
    *,
    labels: dict[str, Any],
    kind: str,
    at: datetime,
    value: float | None,
    severity: str,
    summary: str,
    started_at: datetime | None,
    facts: Facts,
    top_code: int | None = None,
    codes: tuple[int, ...] = (),
    reason: str = "",
) -> Alert:
    status = "resolved" if kind == "resolved" else "firing"
    if reason:
        summary = f"{REASON_WORDS.get(reason, reason)}: {summary}" if summary else reason
    return Alert(
        labels=labels,
        status=status,
        kind=kind,
        value=value,
        severity=severity or "critical",
        summary=summary,
        started_at=started_at,
        at=at,
        url=events_url(rule, labels, at=at, codes=codes),
        top_code=top_code,
        action=action_text(top_code, facts) if status == "firing" else "",
        reason=reason,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _alert_body(rule: Any, alert: Alert) -> dict[str, Any]:
    return {
        "status": alert.status,
        "group": alert.labels,
        "value": alert.value,
        "value_text": format_value(rule.metric, alert.value),
        "severity": alert.severity,
        "summary": alert.summary,
        "reason": alert.reason or None,
        "started_at": _iso(alert.started_at),
        "resolved_at": _iso(alert.at) if alert.status == "resolved" else None,
        "dedup_key": dedup_key(rule.id, alert.labels),
        "url": alert.url,
    }


def _how_bad(rule: Any, alert: Alert) -> str:
    words = metric(rule.metric).words or rule.metric
    if alert.reason == "no data":
        return f"no calls (threshold {format_value(rule.metric, rule.threshold)})"
    return (
        f"{words} {format_value(rule.metric, alert.value)} vs threshold "
        f"{format_value(rule.metric, rule.threshold)} ({alert.severity})"
    )


def _since(rule: Any, moment: datetime | None) -> str:
    return moment.astimezone(ZoneInfo(rule.tz)).strftime("%Y-%m-%d %H:%M %Z") if moment else ""


def build_message(*, rule: Any, alert: Alert, test: bool = False) -> dict[str, Any]:
    """The stored message telling one group's change (see the module docstring)."""
    where = where_text(alert.labels)
    body = {
        "status": alert.status,
        "rule": {"id": rule.id, "name": rule.name, "metric": rule.metric},
        "threshold": rule.threshold,
        "threshold_text": format_value(rule.metric, rule.threshold),
        "test": test,
    } | _alert_body(rule, alert)
    verb = "TEST" if test else _verb(alert.kind)
    line = _line(rule, alert)
    return {
        "kind": alert.kind,
        "test": test,
        "title": f"[{verb}] {rule.name}: {where}",
        "headline": "",
        "where": where,
        "how_bad": _how_bad(rule, alert),
        "since": _since(rule, alert.started_at),
        "top_code": alert.top_code,
        "action": alert.action,
        "lines": [line],
        "more": 0,
        "remaining": 0,
        "pagerduty_key": body["dedup_key"],
        "body": body,
    }


def _verb(kind: str) -> str:
    return {"resolved": "Resolved", "repeat": "Still firing", "test": "TEST"}.get(kind, "Firing")


def _line(rule: Any, alert: Alert) -> dict[str, Any]:
    """One row of a message's list of groups (chat lines, the e-mail table)."""
    return {
        "where": where_text(alert.labels),
        "value": "no calls"
        if alert.reason == "no data"
        else format_value(rule.metric, alert.value),
        "severity": alert.severity,
        "status": alert.status,
        "since": _since(rule, alert.started_at),
        "summary": alert.summary,
        "action": alert.action,
        "url": alert.url,
    }


def headline_text(*, rule: Any, firing: int, active: int) -> str:
    """'11 of 14 couriers at once: ...' when more than half of a courier-grouped rule's
    active couriers fire: the outage is Clickpost's, not a courier's."""
    if rule.group_by != "cp_id" or firing < 2 or firing * 2 <= active:
        return ""
    return f"{firing} of {active} couriers at once: this looks like Clickpost itself, not a courier"


def build_grouped_message(
    *,
    rule: Any,
    alerts: list[Alert],
    at: datetime,
    headline: str = "",
    remaining: int = 0,
    test: bool = False,
) -> dict[str, Any]:
    """The stored message telling several groups of one rule that changed in one minute
    (`together`); `remaining`: the rule's groups still firing after this minute (PagerDuty's
    incident is resolved with the last one)."""
    status = alerts[0].status
    ordered = sorted(alerts, key=lambda a: (a.severity != "critical", where_text(a.labels)))
    critical = any(a.severity == "critical" for a in alerts)
    count = f"{len(alerts)} group{'s' if len(alerts) != 1 else ''}"
    if rule.group_by == "cp_id":
        count = f"{len(alerts)} courier{'s' if len(alerts) != 1 else ''}"
    kinds = {a.kind for a in alerts}
    kind = "repeat" if kinds == {"repeat"} else "resolved" if status == "resolved" else "firing"
    verb = "TEST" if test else _verb(kind)
    names = ", ".join(where_text(a.labels) for a in ordered[:3])
    names += f" and {len(ordered) - 3} more" if len(ordered) > 3 else ""
    single = ordered[0] if len(ordered) == 1 else None
    summary = f"{count} {'resolved' if status == 'resolved' else 'firing'}: {names}"
    summary = headline or (single.summary if single else summary)
    starts = [a.started_at for a in alerts if a.started_at]
    body = {
        "status": status,
        "rule": {"id": rule.id, "name": rule.name, "metric": rule.metric},
        "group": {},
        "value": None,
        "threshold": rule.threshold,
        "threshold_text": format_value(rule.metric, rule.threshold),
        "severity": "critical" if critical else "warning",
        "summary": summary,
        "started_at": _iso(min(starts)) if starts else None,
        "resolved_at": _iso(at) if status == "resolved" else None,
        "dedup_key": rule_dedup_key(rule.id),
        "url": settings.ALERTS_BASE_URL
        + Drill(
            filters=filters_of(rule),
            tz=ZoneInfo(rule.tz),
            start=at - timedelta(minutes=rule.window_minutes),
            end=at,
        ).url(),
        "test": test,
        "alerts": [_alert_body(rule, alert) for alert in ordered],
    }
    lines = [_line(rule, alert) for alert in ordered]
    return {
        "kind": kind,
        "test": test,
        "title": f"[{verb}] {rule.name}: {names}",
        "headline": headline,
        "where": names,
        "how_bad": _how_bad(rule, single) if single else _how_many(rule, count, status),
        "since": _since(rule, min(starts)) if starts else "",
        "top_code": ordered[0].top_code,
        "action": ordered[0].action,
        "lines": lines,
        "more": 0,
        "remaining": remaining,
        "pagerduty_key": body["dedup_key"],
        "body": body,
    }


def _how_many(rule: Any, count: str, status: str) -> str:
    if status == "resolved":
        return f"{count} back to normal"
    return f"{count} past {format_value(rule.metric, rule.threshold)}"


def shown_lines(message: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """The first SHOWN_GROUPS lines of a message and how many more there are."""
    lines = message.get("lines") or []
    return lines[:SHOWN_GROUPS], max(len(lines) - SHOWN_GROUPS, 0)


def line_text(line: dict[str, Any]) -> str:
    text = f"{line['where']}: {line['value']}"
    if line["status"] == "firing":
        text += f" ({line['severity']})"
    return text


def message_text(message: dict[str, Any]) -> str:
    """The message as plain text lines (e-mail body, Slack's fallback text)."""
    body = message["body"]
    lines = [message["title"]]
    if message.get("test"):
        lines.append("TEST: this is a test notification; nothing is wrong.")
    if message.get("headline"):
        lines.append(message["headline"])
    lines += [
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
    if "alerts" in body:
        lines.append("")
        lines += [f"- {line_text(line)}: {line['url']}" for line in message["lines"]]
    lines.append(f"Events: {body['url']}")
    return "\n".join(lines)


def test_message(*, rule: Any, summary: str, at: datetime, key: str) -> dict[str, Any]:
    """A test notification, marked as one in every channel (webhook `"test": true`, "[TEST]" in
    chat and e-mail, PagerDuty `info` on `key`, a key of its own that is resolved at once)."""
    alert = alert_of(
        rule,
        labels={},
        kind="test",
        at=at.replace(second=0, microsecond=0),
        value=rule.threshold,
        severity="warning",
        summary=summary,
        started_at=at,
        facts=Facts(),
    )
    message = build_message(rule=rule, alert=alert, test=True)
    message["pagerduty_key"] = key
    return message
