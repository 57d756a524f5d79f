"""Production settings: `check --deploy` is clean behind HTTPS, secrets are required, security
headers are sent, and no response carries a traceback or SQL."""

from __future__ import annotations

import json
import os
import re
import runpy
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import OperationalError, ProgrammingError, connection, transaction
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from clickpost_monitor.errors import json_page_not_found, json_server_error
from clickpost_monitor.middleware import CONTENT_SECURITY_POLICY

ROOT = Path(__file__).resolve().parent.parent
# Never reached: `check` does not connect; set so the embedded server is not started either.
UNREACHABLE_DB = "postgres://clickpost@db.invalid:5432/clickpost"
SQL_TEXT = 'SELECT "secret_column" FROM "ingest_apitoken" WHERE digest = \'abc\''


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run Python in the project with a clean slate of the settings' environment."""
    names = (
        "DATABASE_URL",
        "SECRET_KEY",
        "DEBUG",
        "HTTPS",
        "ALLOWED_HOSTS",
        "HSTS_PRELOAD",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    )  # the browser tests set the last one for Playwright
    base = {k: v for k, v in os.environ.items() if k not in names}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**base, "DATABASE_URL": UNREACHABLE_DB, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _production(**env: str) -> dict[str, str]:
    return {
        "DEBUG": "0",
        "HTTPS": "1",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "example.com",
        **env,
    }


def _deploy_check(**env: str) -> subprocess.CompletedProcess:
    return _run("manage.py", "check", "--deploy", "--fail-level", "WARNING", **env)


def _settings_of(**env: str) -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({n: getattr(s, n, None) for n in ("
        "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', "
        "'SECURE_HSTS_SECONDS', 'SECURE_HSTS_PRELOAD', 'SECURE_CONTENT_TYPE_NOSNIFF', "
        "'SECURE_PROXY_SSL_HEADER', 'DEBUG')}))"
    )
    done = _run("-c", code, DJANGO_SETTINGS_MODULE="clickpost_monitor.settings", **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# ---------------------------------------------------------------- settings from the environment


def test_deploy_check_is_clean_behind_https():
    done = _deploy_check(**_production())

    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_deploy_check_with_hsts_preload_is_clean_too():
    done = _deploy_check(**_production(HSTS_PRELOAD="1"))

    assert done.returncode == 0, done.stdout + done.stderr


def test_deploy_check_fails_over_plain_http():
    done = _deploy_check(**_production(HTTPS="0"))

    assert done.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in done.stderr


def test_deploy_check_fails_with_a_weak_secret_key():
    done = _deploy_check(**_production(SECRET_KEY="short"))

    assert done.returncode != 0
    assert "security.W009" in done.stderr


def test_https_turns_on_secure_cookies_redirect_and_hsts():
    got = _settings_of(**_production())

    assert got["SESSION_COOKIE_SECURE"] and got["CSRF_COOKIE_SECURE"]
    assert got["SECURE_SSL_REDIRECT"] and got["SECURE_CONTENT_TYPE_NOSNIFF"]
    assert got["SECURE_HSTS_SECONDS"] == 31_536_000 and got["SECURE_HSTS_PRELOAD"] is False
    assert got["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert got["DEBUG"] is False


def test_hsts_is_behind_a_setting():
    assert _settings_of(**_production(HSTS_SECONDS="0"))["SECURE_HSTS_SECONDS"] == 0


def test_debug_is_off_unless_set():
    env = _production()
    del env["DEBUG"]

    assert _settings_of(**env)["DEBUG"] is False


@pytest.mark.parametrize("trigger", [{"HTTPS": "0"}, {"HTTPS": "1"}])
def test_secret_key_is_required_in_production(trigger):
    env = _production(**trigger)
    del env["SECRET_KEY"]

    done = _run("manage.py", "check", **env)

    assert done.returncode != 0
    assert "SECRET_KEY must be set in production" in done.stderr


def test_a_bad_value_stops_start_up_with_its_name():
    done = _run("manage.py", "check", **_production(DEBUG="maybe"))

    assert done.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in done.stderr


# ---------------------------------------------------------------- headers on every response


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/events/", "/admin/login/", "/no-such-page/"])
def test_security_headers_on_every_response(client, settings, url):
    # Pages name their static files; tests run without collectstatic's manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    response = client.get(url)

    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_content_security_policy_allows_only_our_own_scripts():
    directives = dict(
        d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";") if d.strip()
    )

    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "http" not in CONTENT_SECURITY_POLICY  # no CDN anywhere


# ---------------------------------------------------------------- no traceback, no SQL


def _crash(request):
    raise RuntimeError(f"Traceback-bait: {SQL_TEXT}")


class _Crash(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    def get(self, request):
        raise RuntimeError(f"Traceback-bait: {SQL_TEXT}")


class _BadSql(_Crash):
    def get(self, request):
        raise ProgrammingError(f'relation "secret" does not exist LINE 1: {SQL_TEXT}')


class _DatabaseDown(_Crash):
    def get(self, request):
        raise OperationalError(f"connection to server failed; while running {SQL_TEXT}")


class _SlowQuery(_Crash):
    def get(self, request):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 1")
            cursor.execute("SELECT pg_sleep(5)")


urlpatterns = [
    path("api/crash/", _crash),
    path("api/slow-query/", _SlowQuery.as_view()),
    path("api/drf-crash/", _Crash.as_view()),
    path("api/bad-sql/", _BadSql.as_view()),
    path("api/database-down/", _DatabaseDown.as_view()),
    path("page-crash/", _crash),
    path("page/", lambda request: HttpResponse("ok")),
]
handler404 = json_page_not_found
handler500 = json_server_error
no_traceback_urls = override_settings(ROOT_URLCONF=__name__)


def _get(url: str):
    return Client(raise_request_exception=False).get(url)


def _assert_no_internals(response) -> None:
    text = response.content.decode()
    for leak in ("Traceback", "Traceback-bait", "SELECT", "secret", 'File "', "line "):
        assert leak not in text, f"{leak!r} in {text!r}"


@no_traceback_urls
@pytest.mark.parametrize("url", ["/api/crash/", "/api/drf-crash/"])
def test_an_api_crash_is_a_json_500_without_traceback(url):
    response = _get(url)

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": "Internal server error; it has been logged.",
        "detail": {},
    }
    _assert_no_internals(response)


@no_traceback_urls
def test_an_sql_error_shows_no_sql():
    response = _get("/api/bad-sql/")

    assert response.status_code == 503
    assert (
        response.json()["error"] == "Database error; try again later."
    )  # a read: nothing to store
    _assert_no_internals(response)


@no_traceback_urls
def test_database_down_is_a_503_to_retry_later():
    response = _get("/api/database-down/")

    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    _assert_no_internals(response)


@no_traceback_urls
@pytest.mark.django_db
def test_a_query_over_the_statement_timeout_is_a_503():
    response = _get("/api/slow-query/")

    assert response.status_code == 503
    assert response.json()["error"].startswith("The database is unavailable")
    _assert_no_internals(response)


def test_the_statement_timeout_ends_before_the_worker_timeout(settings):
    gunicorn = runpy.run_path(str(ROOT / "clickpost_monitor" / "gunicorn_conf.py"))
    options = settings.DATABASES["default"]["OPTIONS"]["options"]
    statement_ms = int(re.search(r"statement_timeout=(\d+)", options)[1])

    assert statement_ms < gunicorn["timeout"] * 1000


@no_traceback_urls
def test_a_page_crash_is_the_plain_500_page():
    response = _get("/page-crash/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    _assert_no_internals(response)


@no_traceback_urls
def test_an_unknown_api_path_is_a_json_404():
    response = _get("/api/nothing-here/")

    assert response.status_code == 404
    assert response.json() == {"error": "Not found: /api/nothing-here/", "detail": {}}
