"""`exclude_benign` leaves the catalog's benign codes (323 "already placed", ...) out of a rule,
the same way in the evaluator, the preview and the drill-down link of its messages."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from alerts.evaluator import evaluate_minute
from alerts.models import Transition
from alerts.outbox import deliver_due
from stats.benign import benign_codes
from tests.alerts.conftest import make_rule
from tests.alerts.traffic import calls, ingest


@pytest.fixture
def duplicates(db, base):
    """Courier 7: 20 calls a minute, 10 of them 323 (already placed: benign) for 20 minutes;
    courier 9: the same plus 3 real failures (503) a minute."""
    for cp_id, courier, failing in ((7, "Delhivery", 0), (9, "Ecom", 3)):
        start = base
        ingest(calls(start=start, minutes=20, per_minute=10, failing=failing, cp_id=cp_id,
                     courier=courier))  # fmt: skip
        ingest(calls(start=start, minutes=20, per_minute=10, failing=10, code=323, cp_id=cp_id,
                     courier=courier))  # fmt: skip


def fired(rule) -> list[int]:
    return sorted(t.labels["cp_id"] for t in Transition.objects.filter(rule=rule, kind="firing"))


@pytest.mark.parametrize(("exclude", "expected"), [(False, [7, 9]), (True, [9])])
def test_the_evaluator_and_the_preview_leave_benign_codes_out_alike(
    duplicates, base, webhook, receiver, admin_client, exclude, expected
):
    assert 323 in benign_codes()
    rule = make_rule(webhook, threshold=0.2, exclude_benign=exclude)

    for m in range(5, 12):
        evaluate_minute(base + timedelta(minutes=m))
    deliver_due()

    assert fired(rule) == expected
    preview = admin_client.post(
        "/api/v1/alerts/rules/preview/",
        {"name": "p", "metric": "error_rate", "group_by": "cp_id", "window_minutes": 5,
         "threshold": 0.2, "exclude_benign": exclude, "days": 1},
        content_type="application/json",
    ).json()  # fmt: skip
    assert sorted({f["group"]["cp_id"] for f in preview["firings"]}) == expected


def test_the_drill_down_link_lists_the_codes_that_were_counted(duplicates, base, webhook, receiver):
    make_rule(webhook, threshold=0.2, exclude_benign=True, notify="each")

    evaluate_minute(base + timedelta(minutes=6))
    deliver_due()

    [body] = [r.json() for r in receiver.received]
    assert body["group"]["cp_id"] == 9
    assert body["value_text"] == "30.0 %"  # 3 of 10 once the ten 323s are left out
    query = parse_qs(urlsplit(body["url"]).query)
    assert "323" not in query["code"] and "503" in query["code"]
    assert query["cp_id"] == ["9"]
