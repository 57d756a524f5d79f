"""Which lines of a rule can work together (threshold, warning, resolve, direction): one check
for the API's serializer and the admin's `Rule.clean`."""

from __future__ import annotations

from typing import Any

RULE_LINE_FIELDS = (
    "metric",
    "threshold",
    "warning",
    "resolve_threshold",
    "direction",
    "percentile",
    "min_errors",
)


def rule_errors(rule: dict[str, Any]) -> dict[str, list[str]]:
    """Field -> reasons for lines that cannot work together (checked after each field)."""
    metric, direction = rule.get("metric"), rule.get("direction") or "above"
    threshold, warning = rule.get("threshold"), rule.get("warning")
    resolve = rule.get("resolve_threshold")
    errors: dict[str, list[str]] = {}
    if threshold is None:
        return errors
    if metric == "latency":
        errors |= _latency_errors(rule, threshold)
    if metric == "error_rate" and not 0 <= threshold <= 1:
        errors["threshold"] = ["an error_rate threshold is a fraction from 0 to 1 (0.05 = 5%)."]
    if metric == "open_failures" and threshold < 0:
        errors["threshold"] = ["an open_failures threshold is a count of references (0 or more)."]
    if metric == "anomaly":
        if not 0 < threshold < 1:
            errors["threshold"] = ["an anomaly threshold is a probability between 0 and 1."]
        if direction != "above":
            errors["direction"] = ["an anomaly rule fires on rates above usual only."]
        if warning is not None and not threshold < warning < 1:
            errors["warning"] = ["must be a probability above the threshold and below 1."]
        return errors
    above = direction == "above"
    if warning is not None and (warning >= threshold if above else warning <= threshold):
        side = "below" if above else "above"
        errors["warning"] = [f"must be {side} the critical threshold (direction {direction})."]
    lowest = warning if warning is not None else threshold
    if resolve is not None and (resolve > lowest if above else resolve < lowest):
        side = "at or below" if above else "at or above"
        errors["resolve_threshold"] = [f"must be {side} the lowest alerting line ({lowest})."]
    return errors


def _latency_errors(rule: dict[str, Any], threshold: float) -> dict[str, list[str]]:
    """A latency rule compares its calls' percentile (1 to 99.9, one decimal) in ms; its
    calls are those with a latency, so an error floor means nothing to it."""
    errors: dict[str, list[str]] = {}
    if threshold <= 0:
        errors["threshold"] = ["a latency threshold is milliseconds, above 0."]
    percentile = rule.get("percentile")
    if percentile is not None and (
        not 1 <= percentile <= 99.9 or round(percentile, 1) != percentile
    ):
        errors["percentile"] = ["a number from 1 to 99.9, one decimal at most."]
    if rule.get("min_errors"):
        errors["min_errors"] = ["a latency rule has no error floor; use min_calls."]
    return errors
