"""Two evaluators at the same minute: the claim of the week lets exactly one of them send."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from subscriptions.models import ReportSubscription
from subscriptions.schedule import send_due_reports

IST = ZoneInfo("Asia/Kolkata")


def _committed(work):
    """Run `work` on a connection of its own (a thread's), outside the test's transaction, so
    what it writes is committed and every evaluator thread sees it; returns its result."""
    result = []

    def run() -> None:
        try:
            result.append(work())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    return result[0] if result else None


@pytest.fixture
def committed_subscription(db):
    subscription = _committed(
        lambda: ReportSubscription.objects.create(
            recipients="ops@example.com", weekday=2, hour=9, zone="Asia/Kolkata"
        )
    )
    yield subscription
    _committed(lambda: ReportSubscription.objects.filter(pk=subscription.pk).delete())


def test_four_evaluators_at_once_send_one_report(committed_subscription, inbox):
    now = datetime(2026, 11, 3, 9, 0, tzinfo=IST)
    start = threading.Barrier(4)
    sent: list[int] = []

    def evaluator() -> None:
        try:
            start.wait(timeout=10)
            sent.append(send_due_reports(now))
        finally:
            connection.close()  # the thread's own connection

    threads = [threading.Thread(target=evaluator) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    claimed = _committed(
        lambda: ReportSubscription.objects.get(pk=committed_subscription.pk).last_sent_week
    )
    assert sorted(sent) == [0, 0, 0, 1]
    assert len(inbox.messages) == 1
    assert claimed == "2026-W44"
