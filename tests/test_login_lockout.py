"""Login throttling (issue 13, #14): before, 100 wrong passwords in 24 s were followed by the
right one, accepted. Now LOGIN_FAILURE_LIMIT failures of one user name from one address lock that
pair out (django-axes), until the cool-off ends or an operator lifts it with `axes_reset`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.test_auth_matrix import fast_passwords, plain_static  # noqa: F401 (fixtures)

PASSWORD = "the-right-password-1"


@pytest.fixture
def operator(db, plain_static):  # noqa: F811
    return get_user_model().objects.create_user("operator", password=PASSWORD)


def _login(password: str, *, username: str = "operator", ip: str = "203.0.113.7"):
    return Client(REMOTE_ADDR=ip).post(
        reverse("login"), {"username": username, "password": password}
    )


def _wrong_passwords(count: int, **where) -> None:
    for n in range(count):
        assert _login(f"wrong-{n}", **where).status_code in (200, 429)


def test_100_wrong_passwords_then_the_right_one_is_refused(operator, settings):
    _wrong_passwords(100)

    answer = _login(PASSWORD)

    assert answer.status_code == 429
    assert b"Too many failed logins" in answer.content
    assert "_auth_user_id" not in answer.client.session


def test_the_lock_starts_at_the_limit(operator, settings):
    _wrong_passwords(settings.AXES_FAILURE_LIMIT - 1)
    assert _login(PASSWORD).status_code == 302  # one short of the limit: let in

    _wrong_passwords(settings.AXES_FAILURE_LIMIT)
    assert _login(PASSWORD).status_code == 429


def test_an_operator_lifts_the_lock_with_axes_reset(operator, settings):
    _wrong_passwords(settings.AXES_FAILURE_LIMIT)
    assert _login(PASSWORD).status_code == 429

    call_command("axes_reset_username", "operator", stdout=StringIO())

    answer = _login(PASSWORD)
    assert answer.status_code == 302
    assert answer["Location"] == reverse("overview")


def test_axes_reset_lifts_every_lock(operator, settings):
    _wrong_passwords(settings.AXES_FAILURE_LIMIT)
    call_command("axes_reset", stdout=StringIO())

    assert _login(PASSWORD).status_code == 302


def test_the_lock_is_per_address_so_an_attacker_cannot_lock_the_user_out(operator, settings):
    _wrong_passwords(settings.AXES_FAILURE_LIMIT, ip="198.51.100.9")

    assert _login(PASSWORD, ip="198.51.100.9").status_code == 429
    assert _login(PASSWORD, ip="203.0.113.7").status_code == 302
