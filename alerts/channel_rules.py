"""What makes a channel valid, one check for the API's serializer and the admin's
`Channel.clean`: the kind's required settings, receiver URLs (alerts.targets), matchers."""

from __future__ import annotations

from typing import Any

from alerts.models import CHANNEL_KINDS, MATCHER_LABELS
from alerts.targets import refusal
from ingest.catalog import CATEGORIES

REQUIRED = {
    "webhook": ("url",),
    "slack": ("url",),
    "teams": ("url",),
    "email": ("to",),
    "pagerduty": ("routing_key",),
}
URL_KEYS = ("url", "events_url")
MAX_MATCHER_VALUES = 200
SEVERITIES = ("critical", "warning")
_INT_LABELS = ("cp_id", "code")


def channel_errors(*, kind: str, config: Any, matchers: Any) -> dict[str, list[str]]:
    """Field -> reasons; empty when the channel can be saved."""
    errors: dict[str, list[str]] = {}
    if kind not in CHANNEL_KINDS:
        errors["kind"] = [f"must be one of {', '.join(CHANNEL_KINDS)}."]
    if not isinstance(config, dict):
        errors["config"] = ["must be a JSON object."]
    else:
        reasons = config_errors(kind=kind, config=config)
        if reasons:
            errors["config"] = reasons
    reason = matchers_error(matchers)
    if reason:
        errors["matchers"] = [reason]
    return errors


def config_errors(*, kind: str, config: dict[str, Any]) -> list[str]:
    missing = [key for key in REQUIRED.get(kind, ()) if not config.get(key)]
    if missing:
        return [f"a {kind} channel needs {', '.join(missing)}."]
    for key in URL_KEYS:
        if key in config:
            why = refusal(config[key])
            if why:
                return [f"{key} {why}"]
    to = config.get("to")
    if kind == "email" and not (isinstance(to, list) and to and all("@" in str(a) for a in to)):
        return ["to must be a list of e-mail addresses."]
    return []


def matchers_error(matchers: Any) -> str | None:
    """Why `matchers` is not {label: [values]} over the routable labels, or None."""
    if not isinstance(matchers, dict):
        return 'must be a JSON object of label -> list of values, e.g. {"cp_id": [4]}.'
    for label, values in matchers.items():
        if label not in MATCHER_LABELS:
            return f"unknown label {label!r}; labels are {', '.join(MATCHER_LABELS)}."
        if not isinstance(values, list) or not values:
            return f"{label} must be a non-empty list of values."
        if len(values) > MAX_MATCHER_VALUES:
            return f"{label} lists more than {MAX_MATCHER_VALUES} values."
        for value in values:
            why = _value_error(label, value)
            if why:
                return f"{label}: {why}"
    return None


def _value_error(label: str, value: Any) -> str | None:
    if label in _INT_LABELS:
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31
        return None if ok else f"{value!r} is not a whole number."
    if not isinstance(value, str) or len(value) > 200:
        return f"{value!r} is not a text of at most 200 characters."
    if label == "category" and value not in CATEGORIES:
        return f"{value!r} is not one of {', '.join(CATEGORIES)}."
    if label == "severity" and value not in SEVERITIES:
        return f"{value!r} is not one of {', '.join(SEVERITIES)}."
    return None
