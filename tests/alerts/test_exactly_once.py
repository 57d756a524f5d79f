"""Three `run_alerts` processes on one database; the leader is SIGKILLed mid-run. Every
minute is evaluated once (none skipped, none repeated) and the receiver gets exactly one
webhook per transition; the survivors stop cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone

from alerts.leader import floor_minute
from alerts.models import Channel, Notification, Tick, Transition, new_webhook_secret
from tests.alerts.conftest import clear_events, make_rule
from tests.alerts.receivers import Receiver
from tests.alerts.traffic import calls, ingest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def database_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"] or "", safe="") + (
        ":" + quote(s["PASSWORD"], safe="") if s["PASSWORD"] else ""
    )
    host = s["HOST"] or ""
    if host.startswith("/"):
        return f"postgresql://{auth}@/{s['NAME']}?host={quote(host, safe='')}"
    return f"postgresql://{auth}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


def start_evaluator(log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SECRET_KEY": "test-only",
        "ALERTS_MAX_CATCHUP_MINUTES": "120",
        "ALERTS_PRIVATE_TARGETS": "127.0.0.1",  # the receiver
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_alerts", "--poll-seconds", "0.3"],
        cwd=REPO,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def wait_for(predicate, *, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def committed_events():
    """The evaluators read committed rows, which the test flush leaves in the unmanaged raw
    table: emptied after, so courier 7's traffic never meets a later test's."""
    yield
    clear_events()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_three_evaluators_a_killed_leader_and_exactly_one_webhook_per_transition(
    tmp_path, receiver, committed_events
):
    now = floor_minute(timezone.now())
    base = now - timedelta(minutes=50)
    # Courier 7: two incidents (50 % errors) among clean traffic, 20 calls a minute.
    for first, minutes, failing in ((0, 10, 0), (10, 5, 10), (15, 10, 0), (25, 5, 10), (30, 20, 0)):
        ingest(calls(start=base + timedelta(minutes=first), minutes=minutes, per_minute=20,
                     failing=failing))  # fmt: skip
    channel = Channel.objects.create(
        name="hook", kind="webhook", config={"url": receiver.url}, secret=new_webhook_secret()
    )
    make_rule(channel, name="incidents")
    for n in range(12):  # more rules: each minute takes a while, so the kill lands mid-run
        make_rule(channel, name=f"repeating {n}", threshold=0.2 + n / 1000, repeat_minutes=2)
    Tick.objects.create(minute=base)  # the evaluators catch up from here
    processes, logs = [], []
    try:
        for n in range(3):
            logs.append(tmp_path / f"evaluator-{n}.log")
            processes.append(start_evaluator(logs[-1]))
        leader = wait_for(
            lambda: next(
                (p for p, log in zip(processes, logs, strict=True) if "leading" in log.read_text()),
                None,
            ),
            seconds=60,
            what="a leader",
        )
        wait_for(lambda: Tick.objects.count() >= 12, seconds=60, what="the leader to catch up")
        leader.send_signal(signal.SIGKILL)
        leader.wait(10)
        killed_at = Tick.objects.count()

        def caught_up():
            current = floor_minute(timezone.now())
            done = Tick.objects.filter(minute=current).exists()
            pending = Notification.objects.filter(status="pending").exists()
            return done and not pending

        wait_for(caught_up, seconds=120, what="the next leader to catch up and send")
        survivors = [p for p in processes if p is not leader]
        for process in survivors:
            process.send_signal(signal.SIGTERM)
        assert [p.wait(20) for p in survivors] == [0, 0]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)

    ticks = sorted(Tick.objects.values_list("minute", flat=True))
    assert ticks == [ticks[0] + timedelta(minutes=n) for n in range(len(ticks))], "a gap"
    assert ticks[0] == base and 12 <= killed_at < len(ticks)
    told = Transition.objects.filter(notify=True)
    assert told.count() > 10
    got = [r.headers["webhook-id"] for r in receiver.received]
    # SPEC's one exception: a kill between the receiver's answer and the outbox's commit sends
    # that one message again, with the same webhook-id (a receiver drops it). Never another.
    assert len(set(got)) == told.count()
    assert len(got) - len(set(got)) <= 1, "a message sent twice that was not in flight at the kill"
    assert Notification.objects.exclude(status="sent").count() == 0
    incidents = Transition.objects.filter(rule__name="incidents").order_by("at")
    assert [(t.kind, t.at - base) for t in incidents] == [
        ("firing", timedelta(minutes=13)),  # [8, 13): 30 of 100 failed
        ("resolved", timedelta(minutes=18)),  # [13, 18): 20 of 100, not above 0.2
        ("firing", timedelta(minutes=28)),
        ("resolved", timedelta(minutes=33)),
    ]
