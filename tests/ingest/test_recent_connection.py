"""An admitted ingest POST skips Django's health check (`SELECT 1`) on a connection that ended
a request well less than RECENTLY_FINE_SECONDS ago (ingest/doors/middleware.py); a connection
that broke meanwhile fails that one request (a 503) and the next one reconnects."""

from __future__ import annotations

import pytest
from django.core.signals import request_finished, request_started
from django.db import OperationalError, connection, connections

from ingest.doors import middleware


def _a_request_ends() -> None:
    connection.ensure_connection()
    request_finished.send(sender=None)  # Django's close_old_connections, then the note


def _a_request_starts_admitted() -> None:
    request_started.send(sender=None, environ={})  # the kept connection is to be checked
    assert not connection.health_check_done
    middleware._trust_a_recently_fine_connection()


def _terminate(backend_pid: int) -> None:
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [backend_pid])
    finally:
        other.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_connection_fine_a_moment_ago_is_not_checked_again(monotonic_clock):
    _a_request_ends()
    monotonic_clock.now += middleware.RECENTLY_FINE_SECONDS - 0.01
    _a_request_starts_admitted()
    assert connection.health_check_done


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_connection_idle_longer_is_checked(monotonic_clock):
    _a_request_ends()
    monotonic_clock.now += middleware.RECENTLY_FINE_SECONDS
    _a_request_starts_admitted()
    assert not connection.health_check_done


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_connection_broken_within_the_second_fails_one_request_and_the_next_reconnects(
    monotonic_clock,
):
    _a_request_ends()
    broken = connection.connection.info.backend_pid
    _terminate(broken)
    _a_request_starts_admitted()

    with pytest.raises(OperationalError), connection.cursor() as cursor:  # the door's 503
        cursor.execute("SELECT 1")
    request_finished.send(sender=None)
    assert connection.connection is None

    _a_request_starts_admitted()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != broken
