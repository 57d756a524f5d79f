"""Input and output of the alerts API: every rule field validated with a 400 that names it;
secrets never echoed back in full."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from alerts.channel_rules import channel_errors
from alerts.lines import RULE_LINE_FIELDS, rule_errors
from alerts.models import (
    CHANNEL_KINDS,
    NOTIFY,
    AlertState,
    Channel,
    Rule,
    Silence,
    Transition,
    new_webhook_secret,
)
from ingest.catalog import CATEGORIES
from stats.querystring import INT32_MAX
from stats.window import parse_zone

FILTER_CHILDREN: dict[str, serializers.Field] = {
    "endpoint": serializers.CharField(max_length=200),
    "category": serializers.ChoiceField(choices=CATEGORIES),
    "code": serializers.IntegerField(min_value=0, max_value=INT32_MAX),
    "cp_id": serializers.IntegerField(min_value=0, max_value=INT32_MAX),
    "account_code": serializers.CharField(max_length=100, allow_blank=True),
}
MAX_FILTER_VALUES = 200
MAX_PREVIEW_DAYS = 30


def _filter_field(name: str) -> serializers.ListField:
    return serializers.ListField(
        child=FILTER_CHILDREN[name], required=False, max_length=MAX_FILTER_VALUES
    )


class RuleSerializer(serializers.ModelSerializer):
    endpoint = _filter_field("endpoint")
    category = _filter_field("category")
    code = _filter_field("code")
    cp_id = _filter_field("cp_id")
    account_code = _filter_field("account_code")
    window_minutes = serializers.IntegerField(min_value=5, max_value=1440, default=15)
    weeks = serializers.IntegerField(min_value=1, max_value=26, default=8)
    channels = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Channel.objects.all(), required=False
    )
    notify = serializers.ChoiceField(choices=NOTIFY, default="together")
    inhibited_by = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Rule.objects.all(), required=False
    )
    exclude_benign = serializers.BooleanField(default=False)
    last_error = serializers.CharField(read_only=True)
    last_error_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Rule
        fields = [
            "id", "name", "metric", "endpoint", "category", "code", "cp_id", "account_code",
            "group_by", "window_minutes", "threshold", "percentile", "warning", "direction",
            "min_calls",
            "min_errors", "for_minutes", "resolve_threshold", "keep_firing_minutes",
            "repeat_minutes", "channels", "notify", "inhibited_by", "exclude_benign", "enabled",
            "tz", "weeks", "last_error", "last_error_at", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]

    def validate_inhibited_by(self, value: list[Rule]) -> list[Rule]:
        if self.instance is not None and any(rule.pk == self.instance.pk for rule in value):
            raise serializers.ValidationError("a rule cannot inhibit itself.")
        return value

    def to_representation(self, instance: Rule) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not self.context.get("staff", True):
            data["last_error"] = _hidden(instance.last_error)
        return data

    def validate_tz(self, value: str) -> str:
        try:
            return parse_zone(value).key
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        merged = self._merged(attrs)
        errors = rule_errors(merged)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _merged(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The rule as it will be after this request (PATCH changes a few fields)."""
        current: dict[str, Any] = {}
        if self.instance is not None:
            current = {f: getattr(self.instance, f) for f in RULE_LINE_FIELDS}
        defaults = {"direction": "above", "metric": None, "warning": None, "percentile": 95.0}
        return defaults | current | attrs


class PreviewSerializer(RuleSerializer):
    """A rule's body, not saved, and how many days back to replay it."""

    name = serializers.CharField(max_length=200, required=False, default="preview")
    days = serializers.IntegerField(min_value=1, max_value=MAX_PREVIEW_DAYS, default=14)

    class Meta(RuleSerializer.Meta):
        fields = [*RuleSerializer.Meta.fields, "days"]


def masked(text: str) -> str:
    """The first few characters of a secret, for recognising it: never the whole."""
    if not text:
        return ""
    return text[:10] + "…" if len(text) > 14 else "…"


class ChannelSerializer(serializers.ModelSerializer):
    """`config` and `secret` are write-only in full; reads show them masked."""

    kind = serializers.ChoiceField(choices=CHANNEL_KINDS)
    config = serializers.JSONField(required=False, default=dict)
    secret = serializers.CharField(required=False, allow_blank=True, write_only=True)
    matchers = serializers.JSONField(required=False, default=dict)

    class Meta:
        model = Channel
        fields = ["id", "name", "kind", "config", "secret", "matchers", "enabled", "created_at"]
        read_only_fields = ["created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs.get("kind") or getattr(self.instance, "kind", None)
        config = attrs.get("config", getattr(self.instance, "config", {}))
        matchers = attrs.get("matchers", getattr(self.instance, "matchers", {}))
        errors = channel_errors(kind=kind or "", config=config, matchers=matchers)
        if errors:
            raise serializers.ValidationError(errors)
        if kind == "webhook" and not attrs.get("secret") and self.instance is None:
            attrs["secret"] = new_webhook_secret()
        if kind == "webhook" and attrs.get("secret") and not attrs["secret"].startswith("whsec_"):
            raise serializers.ValidationError({"secret": ["must look like whsec_<base64>."]})
        return attrs

    def to_representation(self, instance: Channel) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["config"] = {
            key: masked(str(value)) if key in ("url", "routing_key", "events_url") else value
            for key, value in (instance.config or {}).items()
        }
        data["secret"] = masked(instance.secret)
        return data


class CreatedChannelSerializer(ChannelSerializer):
    """The answer to creating a channel: the webhook secret shown once, to set up a receiver."""

    def to_representation(self, instance: Channel) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["secret"] = instance.secret
        return data


def _hidden(error_text: str) -> str:
    """A receiver's error text may echo internal hosts or secrets: staff see it, others only
    that a send failed."""
    return "a send failed (details for staff)" if error_text else ""


class SilenceSerializer(serializers.ModelSerializer):
    matchers = serializers.DictField(child=serializers.JSONField(), required=False, default=dict)

    class Meta:
        model = Silence
        fields = ["id", "rule", "matchers", "start", "end", "comment", "created_by", "created_at"]
        read_only_fields = ["created_by", "created_at"]

    def validate_matchers(self, value: dict) -> dict:
        allowed = {"endpoint", "category", "code", "cp_id", "account_code"}
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise serializers.ValidationError(
                f"unknown label {unknown[0]!r}; labels are {', '.join(sorted(allowed))}."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["must be after start."]})
        return attrs


class AlertNowSerializer(serializers.ModelSerializer):
    rule = serializers.SerializerMethodField()
    threshold = serializers.FloatField(source="rule.threshold")
    where = serializers.CharField(read_only=True)
    value_text = serializers.CharField(read_only=True)
    threshold_text = serializers.CharField(read_only=True)

    class Meta:
        model = AlertState
        fields = [
            "id", "rule", "labels", "where", "status", "severity", "value", "value_text",
            "threshold", "threshold_text", "calls", "errors", "summary", "since", "started_at",
            "silenced", "inhibited", "evaluated_at",
        ]  # fmt: skip

    def get_rule(self, state: AlertState) -> dict[str, Any]:
        return {"id": state.rule_id, "name": state.rule.name, "metric": state.rule.metric}


class TransitionSerializer(serializers.ModelSerializer):
    rule = serializers.SerializerMethodField()
    notifications = serializers.SerializerMethodField()
    where = serializers.CharField(read_only=True)
    value_text = serializers.CharField(read_only=True)

    class Meta:
        model = Transition
        fields = [
            "id", "rule", "labels", "where", "kind", "reason", "at", "value", "value_text",
            "threshold", "severity", "summary", "started_at", "silenced", "inhibited", "notify",
            "notifications",
        ]  # fmt: skip

    def get_rule(self, transition: Transition) -> dict[str, Any]:
        """The rule as it was named when this happened; `deleted` once it is gone."""
        return {
            "id": transition.rule_id,
            "name": transition.rule_name,
            "metric": transition.rule_metric,
            "deleted": transition.rule_id is None,
        }

    def get_notifications(self, transition: Transition) -> list[dict[str, Any]]:
        staff = self.context.get("staff", True)
        return [
            {
                "channel": n.channel.name,
                "status": n.status,
                "attempts": n.attempts,
                "sent_at": n.sent_at,
                "last_error": n.last_error if staff else _hidden(n.last_error),
            }
            for n in transition.notifications.all()
        ]
