"""While PostgreSQL is down (really stopped, not mocked; issue 13, #11): pages, the login page
included, answer the 503 page with Retry-After; API reads a 503 JSON saying to try again; ingest
a 503 JSON saying nothing was stored. Never a 500, never a traceback in the log. Before, pages
answered the HTML 500 page and every API 503 said "nothing was stored"."""

from __future__ import annotations

import json

import pytest
import requests

from clickpost_monitor.errors import (
    DATABASE_UNAVAILABLE,
    DATABASE_UNAVAILABLE_READ,
    RETRY_AFTER_SECONDS,
)
from tests.fault.harness import Database, Gunicorn, app_env, manage

pytestmark = pytest.mark.slow

PASSWORD = "a-long-test-password"
SET_UP = (
    "import json; from django.contrib.auth import get_user_model; "
    "from tokens.auth import create_token; "
    f"get_user_model().objects.create_user('operator', password={PASSWORD!r}); "
    "print(json.dumps({s: create_token(name=s, scopes=[s])[1] for s in ('ingest', 'read')}))"
)
PAGE = "The database is unavailable"


@pytest.fixture(scope="module")
def down(tmp_path_factory):
    """The server with a logged-in session and two tokens, then its PostgreSQL stopped."""
    database = Database()
    server = None
    try:
        env = app_env(database.url)
        manage(env, "migrate", "--noinput", "-v0")
        tokens = json.loads(manage(env, "shell", "--no-imports", "-c", SET_UP))
        server = Gunicorn(env, tmp_path_factory.mktemp("down") / "gunicorn.log")
        session = _logged_in(server.url)
        database.stop()
        yield server, session, tokens, database
    finally:
        if server is not None:
            server.stop()
        database.remove()


def _logged_in(url: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{url}/accounts/login/", timeout=10)
    answer = session.post(
        f"{url}/accounts/login/",
        data={"username": "operator", "password": PASSWORD},
        headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{url}/"},
        timeout=10,
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:300]
    return session


def _assert_page_503(answer: requests.Response) -> None:
    assert answer.status_code == 503, answer.text[:300]
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert PAGE in answer.text


@pytest.mark.parametrize("path", ["/", "/events/", "/codes/", "/shippers/", "/accounts/login/"])
def test_a_logged_in_page_is_the_503_page(down, path):
    server, session, _, _ = down
    _assert_page_503(session.get(f"{server.url}{path}", timeout=10, allow_redirects=False))


def test_logging_in_is_the_503_page(down):
    server, _, _, _ = down
    fresh = requests.Session()
    login = fresh.get(f"{server.url}/accounts/login/", timeout=10)
    # The form itself needs no database; sending it does.
    assert login.status_code in (200, 503)
    answer = fresh.post(
        f"{server.url}/accounts/login/",
        data={"username": "operator", "password": PASSWORD},
        headers={"X-CSRFToken": fresh.cookies.get("csrftoken", ""), "Referer": f"{server.url}/"},
        timeout=10,
    )
    _assert_page_503(answer)


@pytest.mark.parametrize("path", ["/api/v1/stats/timeseries/", "/api/v1/codes/", "/api/v1/events/"])
def test_an_api_read_is_a_503_saying_try_again(down, path):
    server, _, tokens, _ = down
    answer = requests.get(
        f"{server.url}{path}", headers={"Authorization": f"Bearer {tokens['read']}"}, timeout=10
    )

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert answer.json() == {"error": DATABASE_UNAVAILABLE_READ, "detail": {}, "retry_after": 5}


def test_ingest_is_a_503_saying_nothing_was_stored(down):
    server, _, tokens, _ = down
    answer = requests.post(
        f"{server.url}/api/v1/events/",
        data=b'{"endpoint": "order_create", "http_status": 200}',
        headers={"Authorization": f"Bearer {tokens['ingest']}"},
        timeout=10,
    )

    assert answer.status_code == 503
    assert answer.json() == {"error": DATABASE_UNAVAILABLE, "detail": {}, "retry_after": 5}


def test_no_500_and_no_traceback_and_back_when_the_database_is(down):
    server, session, _, database = down
    log = server.log(tail=10**7)
    assert "Traceback" not in log
    assert '" 500 ' not in log
    database.start()
    assert session.get(f"{server.url}/", timeout=10).status_code == 200
