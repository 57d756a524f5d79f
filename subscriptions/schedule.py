"""Send each due weekly report once per ISO week, whichever evaluator gets there first.

`run_reports` calls `send_due_reports(now)` every minute. A subscription is due from its
weekday and hour in its zone; the report is the last whole ISO week's in that zone, and that
week is the claim: one conditional UPDATE ... WHERE last_sent_week IS DISTINCT FROM the week
RETURNING, committed on its own before anything is sent, so of two evaluators at the same
minute exactly one gets the row back and sends.

A send that fails (SMTP down, refused) gives the claim back (only if it is still ours) and
records the error on the subscription, so the next minute's call tries again: a report is
late while the mail server is down, never lost, and never sent twice, except when a process
dies between the SMTP server's acceptance and the return of send(), which cannot be told
apart from a send that never happened (at most once there: the claim stays).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import connection, transaction

from stats.window import parse_zone
from subscriptions.mail import last_week, send_report
from subscriptions.models import ReportSubscription

log = logging.getLogger(__name__)


def is_due(subscription: ReportSubscription, now: datetime) -> bool:
    """Whether `now` is at or after this ISO week's weekday and hour in the subscription's zone."""
    local = now.astimezone(parse_zone(subscription.zone))
    monday = local.date() - timedelta(days=local.isoweekday() - 1)
    day = monday + timedelta(days=subscription.weekday - 1)
    return (local.date(), local.hour) >= (day, subscription.hour)


def _claim(subscription_id: int, week: str) -> bool:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE subscriptions_reportsubscription SET last_sent_week = %s"
            " WHERE id = %s AND enabled AND last_sent_week IS DISTINCT FROM %s RETURNING id",
            [week, subscription_id, week],
        )
        return cursor.fetchone() is not None


def _release(subscription: ReportSubscription, week: str, error: Exception) -> None:
    ReportSubscription.objects.filter(pk=subscription.pk, last_sent_week=week).update(
        last_sent_week=subscription.last_sent_week, last_error=f"{week}: {error}"[:2000]
    )


def send_due_reports(now: datetime) -> int:
    """Send every enabled subscription due at `now` whose last week's report is unsent.

    Returns how many reports were sent. Failures are logged, recorded on the subscription
    (`last_error`) and retried on the next call.
    """
    sent = 0
    for subscription in ReportSubscription.objects.filter(enabled=True):
        week = last_week(now, parse_zone(subscription.zone))
        if subscription.last_sent_week == week or not is_due(subscription, now):
            continue
        if not _claim(subscription.pk, week):
            continue  # another evaluator sent it
        try:
            send_report(week=week, tz=parse_zone(subscription.zone), to=subscription.addresses())
        except Exception as error:  # SMTP, DNS, refused recipients: retry next minute
            log.warning(
                "weekly report %s to %s failed, retrying next minute: %s",
                week,
                subscription.recipients,
                error,
            )
            _release(subscription, week, error)
            continue
        ReportSubscription.objects.filter(pk=subscription.pk).update(last_error="")
        sent += 1
    return sent
