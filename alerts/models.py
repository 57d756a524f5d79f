"""Alert rules and what became of them: per-group states, transitions, the outbox.

A `Rule` asks one question every minute (alerts.values reads the answer from the read room);
`AlertState` keeps, per rule and group, where the state machine (alerts.machine) stands; every
change is a `Transition`; a transition that must be told becomes one `Notification` row per
channel (the outbox, alerts.outbox sends it after the evaluation committed). `Tick` rows are the
minutes an evaluator has claimed, committed with the states they produced (alerts.evaluator).
"""

from __future__ import annotations

import base64
import secrets
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from alerts.labels import where_text
from alerts.lines import RULE_LINE_FIELDS, rule_errors
from alerts.metrics import format_value

METRICS = ("error_rate", "errors", "calls", "change", "anomaly", "open_failures", "latency")
GROUP_BYS = ("none", "cp_id", "account_code", "endpoint", "code", "category")
DIRECTIONS = ("above", "below")
STATUSES = ("ok", "pending", "firing", "resolved")
CHANNEL_KINDS = ("webhook", "slack", "teams", "email", "pagerduty")
NOTIFY = ("together", "each")
# The labels a channel's `matchers` and a silence may name (`severity` is the alert's own).
MATCHER_LABELS = ("cp_id", "courier", "account_code", "endpoint", "code", "category", "severity")


def _choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(value, value.replace("_", " ")) for value in values]


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def default_zone_name() -> str:
    return settings.TIME_ZONE


class Channel(models.Model):
    """Where notifications go. `config` holds the kind's settings (url, to, routing_key,
    events_url); `secret` signs webhooks. Neither is ever shown back in full by the API."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=_choices(CHANNEL_KINDS))
    config = models.JSONField(default=dict, blank=True)
    secret = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    matchers = models.JSONField(
        default=dict,
        blank=True,
        help_text='routing: label -> values, e.g. {"account_code": ["acme"]}',
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def clean(self) -> None:
        """The admin's check of what the API's serializer checks: config, targets, matchers."""
        from alerts.channel_rules import channel_errors

        errors = channel_errors(kind=self.kind, config=self.config, matchers=self.matchers)
        if errors:
            raise ValidationError(errors)


class Rule(models.Model):
    """One question asked every minute, per group; SPEC "Alerts" names every field."""

    name = models.CharField(max_length=200)
    metric = models.CharField(max_length=16, choices=_choices(METRICS))
    endpoint = models.JSONField(default=list, blank=True)
    category = models.JSONField(default=list, blank=True)
    code = models.JSONField(default=list, blank=True)
    cp_id = models.JSONField(default=list, blank=True)
    account_code = models.JSONField(default=list, blank=True)
    group_by = models.CharField(max_length=16, choices=_choices(GROUP_BYS), default="none")
    window_minutes = models.PositiveIntegerField(
        default=15, validators=[MinValueValidator(5), MaxValueValidator(1440)]
    )
    threshold = models.FloatField(
        help_text="critical; error_rate is a fraction (0.05 = 5%), latency milliseconds"
    )
    percentile = models.FloatField(
        default=95,
        validators=[MinValueValidator(1), MaxValueValidator(99.9)],
        help_text="latency rules: the percentile compared (1 to 99.9)",
    )
    warning = models.FloatField(null=True, blank=True)
    direction = models.CharField(max_length=8, choices=_choices(DIRECTIONS), default="above")
    min_calls = models.PositiveIntegerField(default=0)
    min_errors = models.PositiveIntegerField(default=0)
    for_minutes = models.PositiveIntegerField(default=0)
    resolve_threshold = models.FloatField(null=True, blank=True)
    keep_firing_minutes = models.PositiveIntegerField(default=0)
    repeat_minutes = models.PositiveIntegerField(default=0)
    channels = models.ManyToManyField(Channel, blank=True, related_name="rules")
    notify = models.CharField(
        max_length=8,
        choices=_choices(NOTIFY),
        default="together",
        help_text="together: one message for the groups that change in one minute",
    )
    inhibited_by = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="inhibits",
        help_text="while one of these fires, this rule's alerts are not sent",
    )
    exclude_benign = models.BooleanField(
        default=False, help_text="leave the catalog's benign codes (already done) out"
    )
    enabled = models.BooleanField(default=True)
    tz = models.CharField(max_length=64, default=default_zone_name)
    weeks = models.PositiveIntegerField(
        default=8, validators=[MinValueValidator(1), MaxValueValidator(26)]
    )
    last_error = models.TextField(blank=True, help_text="the last failed send, if any")
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The admin's check of what the API's serializer checks: the zone and the lines."""
        errors = rule_errors({f: getattr(self, f) for f in RULE_LINE_FIELDS})
        if not _is_zone(self.tz):
            errors["tz"] = [f"{self.tz!r} is not an IANA time zone such as Asia/Kolkata"]
        if errors:
            raise ValidationError(errors)


class AlertState(models.Model):
    """Where one group of one rule stands now. No row means `ok` and never alerted."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="states")
    group_key = models.CharField(max_length=300, help_text="canonical JSON of the group labels")
    labels = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=_choices(STATUSES), default="ok")
    severity = models.CharField(max_length=10, blank=True)
    value = models.FloatField(null=True)
    calls = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    summary = models.TextField(blank=True)
    since = models.DateTimeField()
    pending_since = models.DateTimeField(null=True)
    clear_since = models.DateTimeField(null=True)
    started_at = models.DateTimeField(null=True)
    last_notified_at = models.DateTimeField(null=True)
    announced = models.BooleanField(default=False)
    silenced = models.BooleanField(default=False)
    inhibited = models.BooleanField(default=False)
    evaluated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "group_key"], name="alerts_state_unique")
        ]
        indexes = [models.Index(fields=["status"], name="alerts_state_status")]

    def __str__(self) -> str:
        return f"{self.rule} {self.group_key}: {self.status}"

    @property
    def where(self) -> str:
        return where_text(self.labels)

    @property
    def value_text(self) -> str:
        return format_value(self.rule.metric, self.value)

    @property
    def threshold_text(self) -> str:
        return format_value(self.rule.metric, self.rule.threshold)


class Transition(models.Model):
    """One change of an alert (or a repeat of a firing one): the history. It outlives its rule:
    the rule's name and metric are copied, and `rule` is null once the rule is deleted."""

    KINDS = ("pending", "firing", "escalated", "repeat", "resolved", "ok", "test")
    REASONS = ("", "no data", "rule disabled", "rule deleted", "rule edited")

    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="transitions"
    )
    rule_name = models.CharField(max_length=200, blank=True)
    rule_metric = models.CharField(max_length=16, blank=True)
    reason = models.CharField(
        max_length=16,
        blank=True,
        choices=_choices(REASONS),
        help_text="why a resolve happened when it is not the value's return",
    )
    group_key = models.CharField(max_length=300)
    labels = models.JSONField(default=dict)
    kind = models.CharField(max_length=10, choices=_choices(KINDS))
    at = models.DateTimeField()
    value = models.FloatField(null=True)
    threshold = models.FloatField()
    severity = models.CharField(max_length=10, blank=True)
    summary = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True)
    silenced = models.BooleanField(default=False)
    inhibited = models.BooleanField(default=False)
    notify = models.BooleanField(default=False)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["-at", "-id"], name="alerts_transition_newest")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.rule_name} {self.group_key} {self.kind}"

    @property
    def where(self) -> str:
        return where_text(self.labels)

    @property
    def value_text(self) -> str:
        return (
            "no calls" if self.reason == "no data" else format_value(self.rule_metric, self.value)
        )


class Notification(models.Model):
    """The outbox: one message to one channel, telling one transition or several (a rule's
    groups that changed together); sent after the evaluation committed, retried with
    exponential backoff, never twice (the row is locked while it is sent)."""

    PENDING, SENT, FAILED = "pending", "sent", "failed"

    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    transitions: models.ManyToManyField[Transition, Delivery] = models.ManyToManyField(
        Transition, through="Delivery", related_name="notifications"
    )
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    message = models.JSONField(help_text="the message, built when the transition happened")
    status = models.CharField(
        max_length=10, choices=_choices((PENDING, SENT, FAILED)), default=PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="alerts_outbox_due",
            )
        ]

    def __str__(self) -> str:
        return f"notification {self.pk} -> {self.channel}: {self.status}"


class Delivery(models.Model):
    """Which notification tells which transition to which channel: a transition reaches a
    channel once, whichever rule or matcher routed it there (the unique constraint)."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE)
    transition = models.ForeignKey(Transition, on_delete=models.CASCADE)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["transition", "channel"], name="alerts_notification_once"
            )
        ]

    def __str__(self) -> str:
        return f"transition {self.transition_id} -> channel {self.channel_id}"


class Silence(models.Model):
    """Alerts matching it (its rule, if any, and every label in `matchers`) between start and
    end are still evaluated and shown, marked silenced, but not sent."""

    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.CASCADE, related_name="silences"
    )
    matchers = models.JSONField(default=dict, blank=True, help_text='e.g. {"cp_id": 7}')
    start = models.DateTimeField()
    end = models.DateTimeField()
    comment = models.CharField(max_length=300, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start", "-id"]

    def __str__(self) -> str:
        return f"silence {self.matchers} {self.start:%Y-%m-%d %H:%M}-{self.end:%Y-%m-%d %H:%M}"


class MuteWindow(models.Model):
    """A recurring quiet time: on `days` (0 = Monday) from `start_time` to `end_time` local
    time in `tz` (an end before the start runs past midnight). No rule: every rule."""

    name = models.CharField(max_length=100)
    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.CASCADE, related_name="mute_windows"
    )
    days = models.JSONField(default=list, help_text="weekdays, 0 = Monday … 6 = Sunday")
    start_time = models.TimeField()
    end_time = models.TimeField()
    tz = models.CharField(max_length=64, default=default_zone_name)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if not isinstance(self.days, list) or not all(d in range(7) for d in self.days):
            errors["days"] = ["a list of weekdays, 0 = Monday … 6 = Sunday"]
        if not _is_zone(self.tz):
            errors["tz"] = [f"{self.tz!r} is not an IANA time zone such as Asia/Kolkata"]
        if errors:
            raise ValidationError(errors)


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return False
    return True


class Tick(models.Model):
    """A minute claimed by an evaluator, committed together with what it changed: a minute is
    evaluated once, whichever process and however many restarts."""

    minute = models.DateTimeField(primary_key=True)
    evaluated_at = models.DateTimeField(auto_now_add=True)
    rules = models.PositiveIntegerField(default=0)
    transitions = models.PositiveIntegerField(default=0)
    duration_ms = models.FloatField(default=0)

    class Meta:
        ordering = ["-minute"]

    def __str__(self) -> str:
        return f"{self.minute:%Y-%m-%d %H:%M}"
