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
COMMITTED = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@COMMITTED
def test_two_evaluators_at_once_send_one_report(inbox):
    ReportSubscription.objects.create(
        recipients="ops@example.com", weekday=2, hour=9, zone="Asia/Kolkata"
    )
    now = datetime(2026, 11, 3, 9, 0, tzinfo=IST)
    start = threading.Barrier(4)
    sent: list[int] = []

    def evaluator() -> None:
        try:
            start.wait(timeout=10)
            sent.append(send_due_reports(now))
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=evaluator) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(sent) == [0, 0, 0, 1]
    assert len(inbox.messages) == 1
