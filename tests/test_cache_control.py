"""`Cache-Control: private, no-store` on every authenticated response (issue 13, #15): every
API endpoint and method with its token, every read endpoint and every page with a session, found
in the URL resolver by the auth matrix (a new endpoint is covered without editing this file)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.test_auth_matrix import (  # noqa: F401 (fixtures)
    API,
    PAGES,
    _bearer,
    _call,
    fast_passwords,
    plain_static,
    tokens,
    user_client,
)

PRIVATE = "private, no-store"


@pytest.mark.parametrize("endpoint", API, ids=str)
def test_a_token_response_is_private(endpoint, tokens):  # noqa: F811
    response = _call(Client(), endpoint, **_bearer(tokens[endpoint.needs]))

    assert response.status_code not in (401, 403)
    assert response["Cache-Control"] == PRIVATE


@pytest.mark.parametrize("endpoint", [e for e in API if e.needs == "read"], ids=str)
def test_a_session_read_is_private(endpoint, user_client):  # noqa: F811
    response = _call(user_client, endpoint)

    assert response["Cache-Control"] == PRIVATE


@pytest.mark.parametrize("endpoint", PAGES, ids=str)
def test_a_page_after_login_is_private(endpoint, user_client):  # noqa: F811
    response = _call(user_client, endpoint, Accept="text/html")

    assert response["Cache-Control"] == PRIVATE


def test_an_authenticated_error_is_private_too(user_client):  # noqa: F811
    assert user_client.get("/no-such-page/")["Cache-Control"] == PRIVATE


@pytest.mark.django_db
def test_anonymous_answers_are_not_marked(plain_static):  # noqa: F811
    assert "Cache-Control" not in Client().get("/api/v1/events/")
