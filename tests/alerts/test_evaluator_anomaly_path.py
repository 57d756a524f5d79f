"""The evaluator's anomaly path: what it does with `alerts.anomaly.assess_anomalies`' answers.

A controlled detector answers here, so these tests pin the evaluator's side of the interface:
the arguments it passes, the breach rule (probability below the threshold AND above usual AND
the volume floor), the value (the probability) and the summary carried into the message. The
detector itself is tested in test_anomaly*.py, and both together end to end in
test_anomaly_end_to_end.py."""

from __future__ import annotations

import types
from dataclasses import dataclass
from datetime import timedelta

import pytest

from alerts.evaluator import evaluate_minute
from alerts.models import AlertState, Notification, Transition
from tests.alerts.conftest import make_rule


@dataclass(frozen=True)
class AnomalyResult:
    key: object
    calls: int
    errors: int
    rate: float
    usual_rate: float | None
    usual_calls: int
    weeks_used: int
    probability: float
    above_usual: bool
    summary: str


@pytest.fixture
def detector(monkeypatch):
    """A detector answering what the test sets in `answers`, recording how it was asked."""
    module = types.SimpleNamespace(calls=[], answers=[])

    def assess_anomalies(*, at, window_minutes, filters, group_by, tz, weeks):
        module.calls.append(
            {"at": at, "window_minutes": window_minutes, "filters": filters,
             "group_by": group_by, "tz": str(tz), "weeks": weeks}
        )  # fmt: skip
        return list(module.answers)

    monkeypatch.setattr("alerts.values.assess_anomalies", assess_anomalies)
    return module


def result(key, *, p, above=True, calls=120, errors=18):
    return AnomalyResult(
        key, calls, errors, errors / calls, 0.031, 1920, 8, p, above,
        f"{errors} of {calls} calls failed ({errors / calls:.0%}) vs the usual 3.1% on Tuesdays "
        "14:00 IST (8 weeks, 1,920 calls)",
    )  # fmt: skip


def test_an_improbable_rate_above_usual_fires_with_the_detectors_summary(
    detector, base, webhook, receiver
):
    rule = make_rule(
        webhook, metric="anomaly", threshold=0.001, warning=0.01, min_calls=20, weeks=6
    )
    detector.answers = [result(7, p=0.0001), result(9, p=0.0001, above=False), result(4, p=0.2)]

    evaluate_minute(base)

    [call] = detector.calls
    assert call == {
        "at": base, "window_minutes": rule.window_minutes, "filters": call["filters"],
        "group_by": "cp_id", "tz": "Asia/Kolkata", "weeks": 6,
    }  # fmt: skip
    [state] = AlertState.objects.all()
    assert (state.labels, state.status, state.severity) == (
        {"cp_id": 7, "courier": "cp 7"},
        "firing",
        "critical",
    )
    assert state.value == 0.0001
    assert "vs the usual 3.1% on Tuesdays 14:00 IST" in state.summary
    note = Notification.objects.get()
    assert note.message["body"]["summary"] == state.summary


def test_the_volume_floor_holds_for_anomalies_too(detector, base, webhook):
    make_rule(webhook, metric="anomaly", threshold=0.001, min_calls=200)
    detector.answers = [result(7, p=0.0001)]  # 120 calls: under the floor

    evaluate_minute(base)

    assert not Transition.objects.exists()


def test_a_warning_probability_fires_as_a_warning_and_escalates(detector, base, webhook):
    make_rule(webhook, metric="anomaly", threshold=0.001, warning=0.01)
    detector.answers = [result(7, p=0.005)]
    evaluate_minute(base)
    detector.answers = [result(7, p=0.0005)]
    evaluate_minute(base + timedelta(minutes=1))

    assert list(Transition.objects.order_by("at").values_list("kind", "severity")) == [
        ("firing", "warning"),
        ("escalated", "critical"),
    ]
