"""The throttle's statement is the request's connection health check (tokens/ratelimit.py):
no `SELECT 1` of its own on a kept connection, and a kept connection found broken is replaced
and the request answered, as the health check did."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection, connections

from tokens import ratelimit


def _a_new_request_on_the_kept_connection() -> None:
    """What Django's request_started does to a kept connection: it is to be checked again."""
    connection.ensure_connection()
    connection.close_if_unusable_or_obsolete()
    assert not connection.health_check_done


def _terminate(backend_pid: int) -> None:
    """The server ends the connection (as a restart or an idle timeout would)."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [backend_pid])
            assert cursor.fetchone() == (True,)
    finally:
        other.close()


def _take() -> ratelimit.Decision:
    return ratelimit.take("health-check-test", limit=100, period_seconds=60)


@pytest.fixture
def usable_checks(monkeypatch) -> list[bool]:
    """Each `SELECT 1` health check Django makes on this connection."""
    made: list[bool] = []
    is_usable = connection.is_usable

    def counted() -> bool:
        made.append(is_usable())
        return made[-1]

    monkeypatch.setattr(connection, "is_usable", counted)
    return made


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_kept_connection_is_checked_by_the_throttle_statement(usable_checks):
    _a_new_request_on_the_kept_connection()
    assert _take().allowed
    assert connection.health_check_done
    with connection.cursor() as cursor:  # the request's next statement: no check either
        cursor.execute("SELECT 1")
    assert usable_checks == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_broken_kept_connection_is_replaced_and_the_request_answered(usable_checks):
    _a_new_request_on_the_kept_connection()
    broken_pid = connection.connection.info.backend_pid
    _terminate(broken_pid)

    assert _take().allowed
    assert connection.connection.info.backend_pid != broken_pid
    assert usable_checks == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_connection_broken_after_its_check_is_an_error_then_replaced():
    _a_new_request_on_the_kept_connection()
    assert _take().allowed  # checked in this request
    _terminate(connection.connection.info.backend_pid)

    with pytest.raises(OperationalError):  # the door answers it with a 503
        _take()
    connection.close_if_unusable_or_obsolete()  # the request's end (request_finished)
    assert connection.connection is None
    assert _take().allowed  # the next request, on a new connection
