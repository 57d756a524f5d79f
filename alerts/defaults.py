"""The rules a fresh install starts with (migration 0002), disabled until a channel is set:
a team gets useful questions before it writes one of its own."""

from __future__ import annotations

DEFAULT_RULES = [
    {
        "name": "A courier's error rate is unusual for the hour",
        "metric": "anomaly",
        "group_by": "cp_id",
        "window_minutes": 60,
        # Measured by tests/alerts/test_anomaly_simulation.py (30 couriers, 8 weeks of history):
        # 1e-4 held for 3 minutes fires about once a week on no incident (0.001 held for 10
        # fired 3 times) and finds a doubled error rate at the busiest courier in a median 18 min.
        "threshold": 0.0001,
        "warning": 0.001,
        "min_calls": 50,
        "min_errors": 5,
        "for_minutes": 3,
        "keep_firing_minutes": 15,
        "repeat_minutes": 0,
        "weeks": 8,
        "exclude_benign": True,
    },
    {
        "name": "Burst of courier credential failures (316, 324)",
        "metric": "errors",
        "code": [316, 324],
        "group_by": "cp_id",
        "window_minutes": 15,
        "threshold": 25,
        "warning": 10,
        "min_errors": 10,
        "keep_firing_minutes": 10,
        "exclude_benign": True,
    },
    {
        "name": "5xx errors from Clickpost",
        "metric": "errors",
        "category": ["server"],
        "group_by": "none",
        "window_minutes": 15,
        "threshold": 50,
        "warning": 20,
        "min_errors": 20,
        "keep_firing_minutes": 10,
        "exclude_benign": True,
    },
    {
        "name": "The shippers went silent (no calls logged for 30 minutes)",
        "metric": "calls",
        "direction": "below",
        "group_by": "none",
        "window_minutes": 30,
        "threshold": 1,
        "for_minutes": 10,
        "exclude_benign": True,
    },
]
