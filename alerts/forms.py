"""The rule form of the pages, drawn from the API's own serializer and read back into the API's
body, so a rule is valid on the page exactly when it is valid in the API.

`rule_fields` lists what to draw: every writable field of `RuleSerializer`, in the order of
`SECTIONS` (a field the serializer gains later is drawn in the last section by its type), with
pickers listing the couriers, endpoints, codes and accounts that exist. `rule_body` turns a
submitted form into the JSON body the API takes; the values in the metric's unit (percent for
an error rate) become what the rule stores (alerts.metrics).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import models
from django.http import QueryDict
from rest_framework import serializers

from alerts.metrics import (
    UNIT_FIELDS,
    group_words,
    metric,
    metric_choices,
    stored_value,
    typed_value,
)
from alerts.models import MATCHER_LABELS, Channel, Rule
from alerts.serializers import RuleSerializer, masked
from ingest.catalog import CATEGORIES
from ingest.events import ENDPOINT_NAMES
from ingest.models import CodeEntry, Courier, RollupByAccountDaily, RollupByCodeDaily

ZONES = ("UTC", "Asia/Kolkata", "Asia/Dubai", "Asia/Singapore", "Europe/London")
FILTERS = ("endpoint", "category", "code", "cp_id", "account_code")
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("What it watches", ("name", "metric", "percentile", "enabled")),
    ("Which calls", (*FILTERS, "exclude_benign", "group_by")),
    (
        "When it fires",
        ("window_minutes", "direction", "threshold", "warning", "min_calls", "min_errors",
         "for_minutes"),
    ),
    ("When it resolves and repeats",
     ("resolve_threshold", "keep_firing_minutes", "repeat_minutes")),
    ("Who is told", ("channels", "notify", "inhibited_by")),
    ("Usual rates (anomaly)", ("tz", "weeks")),
)  # fmt: skip
# Fields that mean something for some metrics only: drawn for every metric (a submitted form
# carries them all, as the API body may), shown by static/js/rule_preview.js for these.
ONLY_FOR = {"percentile": ("latency",), "tz": ("anomaly",), "weeks": ("anomaly",)}
TEXT = {
    "name": ("Name", "What the message's title says."),
    "metric": ("Metric", ""),
    "percentile": ("Percentile", "Which percentile of the calls' latency, e.g. 95."),
    "enabled": ("Enabled", "A disabled rule is kept but not evaluated."),
    "endpoint": ("Endpoints", "None chosen: every endpoint."),
    "category": ("Categories", "None chosen: every category."),
    "code": ("Codes", "None chosen: every code."),
    "cp_id": ("Couriers", "None chosen: every courier."),
    "account_code": ("Accounts", "None chosen: every account."),
    "exclude_benign": ("Leave out benign codes", "“Already done” codes (303, 323, 600, …)."),
    "group_by": ("One alert per", "“none”: one alert for all the calls the filters keep."),
    "window_minutes": ("Window (minutes)", "Each minute the rule looks back this far, 5 to 1440."),
    "direction": ("Fires when the value is", ""),
    "threshold": ("Critical threshold", ""),
    "warning": ("Warning threshold", "Optional: a warning before the critical line."),
    "min_calls": ("At least this many calls", "Below it a group never alerts."),
    "min_errors": ("At least this many errors", "Four calls with three failures is no incident."),
    "for_minutes": ("Pending for (minutes)", "How long past the line before it fires."),
    "resolve_threshold": ("Resolves below", "Optional: hysteresis, so it does not flap."),
    "keep_firing_minutes": ("Keep firing (minutes)", "After the value recovers."),
    "repeat_minutes": ("Repeat every (minutes)", "Tell again while firing; 0 = never."),
    "channels": ("Channels", "Where the rule's messages go."),
    "notify": ("Notify", "“together”: one message for the groups that fire at once."),
    "inhibited_by": ("Muted while these fire", "Rules that, firing, make this one quiet."),
    "tz": ("Time zone", "The zone of “the same hour of the week”."),
    "weeks": ("Weeks of history", "How many past weeks make the usual rate, 1 to 26."),
}


SHORT = 34  # characters of an option a phone's picker shows whole; the rest in its title


@dataclass
class Option:
    value: str
    label: str
    selected: bool = False

    @property
    def short(self) -> str:
        return self.label if len(self.label) <= SHORT else self.label[: SHORT - 1] + "…"


@dataclass
class Field:
    name: str
    label: str
    help: str
    kind: str  # text | number | select | multiple | checks | checkbox
    value: str = ""
    options: list[Option] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unit: str = ""  # the metric's unit after a threshold input
    scaled: bool = False  # typed in the metric's unit
    required: bool = False
    focus: bool = False  # the first field with an error
    only_for: str = ""  # the metrics it applies to, space-separated; "" = every metric

    @property
    def size(self) -> int:
        """Rows a multiple picker shows: 3 to 6."""
        return min(max(len(self.options), 3), 6)


@dataclass
class Section:
    title: str
    fields: list[Field]


def _writable(serializer: serializers.Serializer) -> dict[str, serializers.Field]:
    return {name: f for name, f in serializer.fields.items() if not f.read_only}


def _kind(name: str, f: serializers.Field) -> str:
    if isinstance(f, serializers.ManyRelatedField):
        return "checks"
    if isinstance(f, serializers.ListField):
        return "multiple"
    if isinstance(f, serializers.BooleanField):
        return "checkbox"
    if isinstance(f, serializers.ChoiceField) or name == "tz":
        return "select"
    if isinstance(f, serializers.IntegerField | serializers.FloatField):
        return "number"
    return "text"


def _choices(name: str, f: serializers.Field, *, rule_id: int | None) -> list[tuple[str, str]]:
    """What a picker offers: what exists (couriers, codes, accounts seen), else the field's own."""
    if name == "metric":
        return metric_choices()
    if name == "group_by" and isinstance(f, serializers.ChoiceField):
        return [(str(k), group_words(str(k))) for k in f.choices]
    if name == "tz":
        return [(z, z) for z in dict.fromkeys([*ZONES, settings.TIME_ZONE])]
    if name in FILTERS:
        return _filter_choices(name)
    if isinstance(f, serializers.ManyRelatedField):
        queryset = f.child_relation.queryset
        assert queryset is not None  # a writable relation has one
        rows = queryset.all()
        if queryset.model is Rule:
            rows = rows.exclude(pk=rule_id)
        return [(str(row.pk), str(row)) for row in rows]
    if isinstance(f, serializers.ChoiceField):
        return [(str(k), str(v)) for k, v in f.choices.items()]
    return []


def _filter_choices(name: str) -> list[tuple[str, str]]:
    if name == "cp_id":
        return [(str(cp), f"{courier} ({cp})") for cp, courier in Courier.objects.values_list()]
    if name == "code":
        return [
            (str(code), f"{code} {meaning}")
            for code, meaning in CodeEntry.objects.order_by("code").values_list("code", "meaning")
        ]
    if name == "category":
        return [(c, c.replace("_", " ")) for c in CATEGORIES]
    if name == "endpoint":
        seen = RollupByCodeDaily.objects.values_list("endpoint", flat=True).distinct()
        return [(e, e) for e in sorted({*ENDPOINT_NAMES, *seen})]
    accounts = RollupByAccountDaily.objects.values_list("account_code", flat=True).distinct()
    return [(a, a or "(no account)") for a in sorted(accounts)]


def rule_values(rule: Rule | None) -> dict[str, Any]:
    """A saved rule (or a new one's defaults) as the form's values, in the metric's unit."""
    data = RuleSerializer(rule).data if rule is not None else _defaults()
    values = dict(data)
    for name in UNIT_FIELDS:
        if name in values:
            values[name] = typed_value(values.get("metric"), values[name])
    return values


def _defaults() -> dict[str, Any]:
    """A new rule's values: the serializer's defaults, else the model's."""
    defaults: dict[str, Any] = {"metric": "error_rate"}
    for name, f in _writable(RuleSerializer()).items():
        if f.default is not serializers.empty:
            initial = f.default
        else:
            model_field = Rule._meta.get_field(name)
            assert isinstance(model_field, models.Field)  # a rule's own column, not a relation
            initial = model_field.default if model_field.has_default() else None
        defaults.setdefault(name, initial() if callable(initial) else initial)
    return defaults


def form_values(data: QueryDict) -> dict[str, Any]:
    """A submitted form as the form's values (shown back as typed when it had errors)."""
    serializer = RuleSerializer()
    values: dict[str, Any] = {}
    for name, f in _writable(serializer).items():
        kind = _kind(name, f)
        if kind in ("checks", "multiple"):
            values[name] = data.getlist(name)
        elif kind == "checkbox":
            values[name] = name in data
        else:
            values[name] = data.get(name, "")
    return values


def rule_body(data: QueryDict) -> dict[str, Any]:
    """The API's JSON body for a submitted rule form: lists for pickers, booleans for boxes
    (an unticked box is not sent: false), numbers in the stored unit, null for an optional
    number left empty."""
    body: dict[str, Any] = {}
    chosen_metric = data.get("metric")
    for name, f in _writable(RuleSerializer()).items():
        kind = _kind(name, f)
        if kind in ("checks", "multiple"):
            body[name] = [v for v in data.getlist(name) if v != "" or name == "account_code"]
        elif kind == "checkbox":
            body[name] = name in data
        elif name in data:  # a field the form did not send takes the API's default
            text = data.get(name, "").strip()
            if text == "" and kind == "number":
                if f.allow_null:
                    body[name] = None
                elif f.required:
                    body[name] = text  # the serializer names it: a number is required
                continue
            body[name] = stored_value(chosen_metric, text) if name in UNIT_FIELDS else text
    return body


def rule_sections(
    values: Mapping[str, Any], errors: Mapping[str, Any] | None = None, *, rule_id: int | None
) -> list[Section]:
    """The form's sections, every writable field of the API's serializer in one of them."""
    writable = _writable(RuleSerializer())
    placed = {name for _, names in SECTIONS for name in names}
    extra = tuple(name for name in writable if name not in placed)
    unit = metric(values.get("metric")).unit
    sections, focused = [], False
    for title, names in (*SECTIONS[:-1], (SECTIONS[-1][0], SECTIONS[-1][1] + extra)):
        fields = []
        for name in names:
            if name not in writable:
                continue
            item = _field(name, writable[name], values, errors or {}, rule_id=rule_id)
            if name in UNIT_FIELDS:
                item.scaled, item.unit = True, unit.suffix
            if name == "metric":
                item.help = metric(values.get("metric")).help
            if item.errors and not focused:
                item.focus = focused = True
            fields.append(item)
        if fields:
            sections.append(Section(title, fields))
    return sections


def _field(
    name: str, f: serializers.Field, values: Mapping[str, Any], errors: Mapping[str, Any], **kw
) -> Field:
    label, help_text = TEXT.get(name, (name.replace("_", " ").capitalize(), str(f.help_text or "")))
    kind = _kind(name, f)
    value = values.get(name)
    item = Field(
        name=name,
        label=label,
        help=help_text,
        kind=kind,
        errors=[str(e) for e in _as_list(errors.get(name))],
        required=bool(f.required) and kind not in ("checkbox", "checks", "multiple"),
        only_for=" ".join(ONLY_FOR.get(name, ())),
    )
    if kind in ("select", "multiple", "checks"):
        chosen = {str(v) for v in (value if isinstance(value, list) else [value])}
        choices = _choices(name, f, rule_id=kw["rule_id"])
        known = {v for v, _ in choices}
        choices += [(v, v) for v in sorted(chosen - known) if v not in ("", "None")]
        item.options = [Option(v, text, v in chosen) for v, text in choices]
    elif kind == "checkbox":
        item.value = "on" if value else ""
    else:
        item.value = "" if value is None else str(value)
    return item


def _as_list(reasons: Any) -> list[Any]:
    if reasons is None:
        return []
    if isinstance(reasons, dict):
        return [f"{k}: {v}" for k, v in reasons.items()]
    return list(reasons) if isinstance(reasons, list | tuple) else [reasons]


@dataclass(frozen=True)
class ConfigInput:
    key: str
    label: str
    help: str
    secret: bool = False  # shown masked; left empty on an edit, the saved value stays


CHANNEL_INPUTS: dict[str, tuple[ConfigInput, ...]] = {
    "webhook": (
        ConfigInput("url", "URL", "Receives signed JSON (Standard Webhooks).", secret=True),
    ),
    "slack": (ConfigInput("url", "Incoming webhook URL", "From Slack's app settings.", True),),
    "teams": (ConfigInput("url", "Workflows webhook URL", "A Teams Workflows trigger.", True),),
    "email": (ConfigInput("to", "Addresses", "E-mail addresses, separated by commas."),),
    "pagerduty": (
        ConfigInput("routing_key", "Routing key", "The Events API v2 integration key.", True),
        ConfigInput("events_url", "Events URL", "Optional: PagerDuty's own by default.", True),
    ),
}


KIND_WORDS = {
    "webhook": "Webhook (signed JSON)",
    "slack": "Slack",
    "teams": "Microsoft Teams",
    "email": "E-mail",
    "pagerduty": "PagerDuty",
}


def channel_body(data: QueryDict, *, current: Channel | None) -> dict[str, Any]:
    """The API's JSON body for a submitted channel form: only the chosen kind's inputs (named
    `<kind>-<key>`); a secret input left empty keeps the saved value."""
    kind = data.get("kind", "")
    config = dict(current.config) if current is not None and current.kind == kind else {}
    for item in CHANNEL_INPUTS.get(kind, ()):
        text = data.get(f"{kind}-{item.key}", "").strip()
        if item.key == "to":
            config["to"] = [a for a in text.replace(";", ",").replace(" ", ",").split(",") if a]
        elif text:
            config[item.key] = text
        elif not item.secret:
            config.pop(item.key, None)
    body: dict[str, Any] = {
        "name": data.get("name", "").strip(),
        "kind": kind,
        "config": config,
        "matchers": matchers_body(data),
        "enabled": "enabled" in data,
    }
    secret = str(data.get("webhook-secret", "")).strip()
    if kind == "webhook" and secret:
        body["secret"] = secret
    return body


def channel_inputs(channel: Channel | None, data: QueryDict | None = None) -> list[dict]:
    """Each kind's inputs with what they hold: typed text back after an error, the saved
    addresses, never a saved secret (its first characters show as the placeholder)."""
    kinds = []
    for kind, inputs in CHANNEL_INPUTS.items():
        rows = []
        for item in inputs:
            saved = (
                (channel.config or {}).get(item.key) if channel and channel.kind == kind else None
            )
            value = data.get(f"{kind}-{item.key}", "") if data is not None else ""
            if data is None and saved and not item.secret:
                value = ", ".join(saved) if isinstance(saved, list) else str(saved)
            placeholder = f"kept: {masked(str(saved))}" if saved and item.secret else ""
            rows.append({"item": item, "name": f"{kind}-{item.key}", "value": value,
                         "placeholder": placeholder})  # fmt: skip
        kinds.append({"kind": kind, "words": KIND_WORDS.get(kind, kind), "inputs": rows})
    return kinds


def matchers_body(data: QueryDict) -> dict[str, list[Any]]:
    """Routing matchers from one text input per label (`match-<label>`, values separated by
    commas); whole numbers for cp_id and code, other text left for the serializer to refuse."""
    matchers: dict[str, list[Any]] = {}
    for label in MATCHER_LABELS:
        values = [v.strip() for v in data.get(f"match-{label}", "").split(",") if v.strip()]
        if values:
            matchers[label] = [
                int(v) if label in ("cp_id", "code") and v.isdigit() else v for v in values
            ]
    return matchers


MATCHER_WORDS = {
    "cp_id": "Courier ids (cp_id)",
    "courier": "Couriers by name",
    "account_code": "Accounts",
    "endpoint": "Endpoints",
    "code": "Codes",
    "category": "Categories",
    "severity": "Severity",
}


def matcher_inputs(channel: Channel | None, data: QueryDict | None) -> list[dict[str, str]]:
    """One input per routable label, holding what was typed or what is saved."""
    saved = (channel.matchers or {}) if channel is not None else {}
    return [
        {
            "label": MATCHER_WORDS.get(label, label),
            "name": f"match-{label}",
            "value": data.get(f"match-{label}", "")
            if data is not None
            else ", ".join(str(v) for v in saved.get(label, [])),
        }
        for label in MATCHER_LABELS
    ]


def matchers_text(matchers: dict[str, list[Any]], name_of: Any = None) -> str:
    """{"cp_id": [4], "severity": ["critical"]} -> "cp_id 4 (Delhivery); severity critical"."""
    parts = []
    for label, values in (matchers or {}).items():
        shown = [
            f"{v} ({name_of(label, v)})" if name_of and name_of(label, v) != str(v) else str(v)
            for v in values
        ]
        parts.append(f"{label} {', '.join(shown)}")
    return "; ".join(parts)
