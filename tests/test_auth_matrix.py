"""Who may call what: every URL pattern, found in the resolver when the tests are collected, is
tried with no credentials, a wrong token, a revoked token, a token of the wrong scope, the
right token and a logged-in session. A new endpoint is covered without editing this file; one
that answers without credentials must be named in PUBLIC on purpose."""

from __future__ import annotations

import re
from dataclasses import dataclass
from io import StringIO
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from tokens.auth import CanAdmin, CanIngest, CanRead, create_token

# Sample values for the URL parameters of the patterns (a new parameter name needs one here).
SAMPLE_KWARGS = {
    "event_id": "1",
    "value": "WB-1",
    "waybill": "WB-1",
    "order_id": "ORD-1",
    "index": "logs",
    "id": "1",
}
# Answer without credentials, on purpose: the sign-in pages, the API description, and the
# health probes Elasticsearch shippers make before they send (they show no data).
PUBLIC = {"login", "logout", "api-schema", "api-docs", "es-cat-health", "es-cluster-health"}
METHODS = ("get", "post", "put", "patch", "delete")
PASSWORD = "a-long-test-password"


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    method: str
    needs: str  # "ingest", "read", "admin", "public" or "login" (a page)

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path} ({self.needs})"


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route != "admin/":  # the admin has its own tests below
                yield from _walk(pattern.url_patterns, route)
        else:
            yield route, pattern


def _concrete(route: str) -> str:
    if route.startswith("^"):
        raise AssertionError(f"regex route {route!r}: give it a sample path in this test")
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE_KWARGS[m[1]], route)


def _needs(view_class: type[APIView], method: str, initkwargs: dict) -> str:
    view = view_class(**initkwargs)
    view.request, view.args, view.kwargs = SimpleNamespace(method=method.upper()), (), {}
    kinds = {type(permission) for permission in view.get_permissions()}
    if CanIngest in kinds:
        return "ingest"
    if CanAdmin in kinds:
        return "admin"
    if CanRead in kinds:
        return "read"
    if kinds <= {AllowAny}:
        return "public"
    raise AssertionError(f"{view_class.__name__}.{method}: unknown permissions {kinds}")


def endpoints() -> list[Endpoint]:
    found = []
    for route, pattern in _walk(get_resolver().url_patterns):
        assert isinstance(pattern, URLPattern)
        name, path = pattern.name or route, _concrete(route)
        view_class = getattr(pattern.callback, "cls", None)
        if view_class is not None and issubclass(view_class, APIView):
            initkwargs = getattr(pattern.callback, "initkwargs", {})
            for method in METHODS:
                if hasattr(view_class, method):
                    found.append(
                        Endpoint(name, path, method, _needs(view_class, method, initkwargs))
                    )
        else:
            found.append(Endpoint(name, path, "get", "public" if name in PUBLIC else "login"))
    return found


ENDPOINTS = endpoints()
API = [e for e in ENDPOINTS if e.needs in ("ingest", "read", "admin")]
PAGES = [e for e in ENDPOINTS if e.needs == "login"]
OTHER_SCOPE = {"ingest": "read", "read": "ingest", "admin": "read"}
# What the right credential gets from each API endpoint asked bare (its sample path, no query,
# an empty JSON body for a POST, PUT or PATCH): the exact status, so that a 500, or a 404 from
# a route that no longer matches, cannot pass for "let in". A new endpoint needs its line here.
LET_IN: dict[tuple[str, str], int] = {
    ("api-events", "get"): 200,
    ("api-events", "post"): 200,  # an empty batch
    ("api-event", "get"): 404,  # no event 1: answered by the view, not the resolver
    ("api-waybill", "get"): 404,
    ("api-order", "get"): 404,
    ("api-timeseries", "get"): 200,
    ("api-breakdown", "get"): 200,
    ("api-latency", "get"): 200,
    ("api-codes", "get"): 200,
    ("api-weekly-report", "get"): 400,  # `week` is required
    ("api-open-failures", "get"): 200,
    ("api-open-failures-summary", "get"): 200,
    ("api-open-failures-dismiss", "post"): 400,  # no refs, no note
    ("api-open-failures-dismissed", "get"): 200,
    ("api-tokens", "get"): 200,
    ("api-alerts", "get"): 200,
    ("api-alerts-history", "get"): 200,
    ("api-alert-rules", "get"): 200,
    ("api-alert-rules", "post"): 400,  # an empty rule
    ("api-alert-rule-preview", "post"): 400,
    ("api-alert-rule", "get"): 200,  # rule 1: the default rules are seeded
    ("api-alert-rule", "put"): 405,  # rules change by PATCH only
    ("api-alert-rule", "patch"): 200,
    ("api-alert-rule", "delete"): 204,
    ("api-alert-rule-test", "post"): 200,
    ("api-alert-channels", "get"): 200,
    ("api-alert-channels", "post"): 400,
    ("api-alert-silences", "get"): 200,
    ("api-alert-silences", "post"): 400,
    ("api-alert-silence", "delete"): 404,
    ("otlp-logs", "post"): 200,
    ("api-otlp-logs", "post"): 200,
    ("loki-push", "post"): 204,
    ("es-bulk", "post"): 200,
    ("es-bulk", "put"): 200,
    ("es-index-bulk", "post"): 200,
    ("es-index-bulk", "put"): 200,
    ("splunk-hec", "post"): 200,
    ("splunk-hec-event", "post"): 200,
    ("splunk-hec-event-1.0", "post"): 200,
    ("seq-raw", "post"): 201,
    ("seq-clef", "post"): 201,
    ("betterstack", "post"): 202,
    ("betterstack-no-slash", "post"): 202,
    ("logzio", "post"): 200,
    ("logzio-no-slash", "post"): 200,
}
# What a logged-in (not staff) session gets from an ingest or admin endpoint: the generic door
# and the alerts API know the session and refuse it the scope (403); the protocol doors take
# only their own credentials (401).
SESSION_REFUSED = {"api-events": 403, "api-open-failures-dismiss": 403} | {
    name: 403 for name, _ in LET_IN if name.startswith("api-alert")
}


def _call(client: Client, endpoint: Endpoint, **headers: str):
    return getattr(client, endpoint.method)(endpoint.path, headers=headers)


def _let_in_call(client: Client, endpoint: Endpoint, **headers: str):
    """The bare request LET_IN describes (an empty JSON body for a POST, PUT or PATCH)."""
    if endpoint.method in ("post", "put", "patch"):
        call = getattr(client, endpoint.method)
        return call(endpoint.path, b"", content_type="application/json", headers=headers)
    return _call(client, endpoint, **headers)


def _expected(endpoint: Endpoint) -> int:
    key = (endpoint.name, endpoint.method)
    assert key in LET_IN, f"{endpoint}: add what the right credential gets to LET_IN"
    return LET_IN[key]


def _assert_let_in(response, endpoint: Endpoint) -> None:
    assert response.status_code == _expected(endpoint), response.content[:300]
    if response.status_code == 404:  # the view's own answer, not an unmatched address
        assert not response.json()["error"].startswith("Not found: "), response.content[:300]


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def tokens(db) -> dict[str, str]:
    made = {
        scope: create_token(name=scope, scopes=[scope])[1] for scope in ("ingest", "read", "admin")
    }
    made["revoked-ingest"] = create_token(name="revoked-ingest", scopes=["ingest"])[1]
    made["revoked-read"] = create_token(name="revoked-read", scopes=["read"])[1]
    made["revoked-admin"] = create_token(name="revoked-admin", scopes=["admin"])[1]
    for name in ("revoked-ingest", "revoked-read", "revoked-admin"):
        call_command("revoke_token", name, stdout=StringIO())
    return made


@pytest.fixture
def plain_static(settings):
    """Pages name their static files; tests run without collectstatic's manifest."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def user_client(db, plain_static) -> Client:
    user = get_user_model().objects.create_user("operator", password=PASSWORD)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(db, plain_static) -> Client:
    user = get_user_model().objects.create_superuser("admin", password=PASSWORD)
    client = Client()
    client.force_login(user)
    return client


def test_the_matrix_found_the_api_and_the_pages():
    found = {(e.method, e.path) for e in ENDPOINTS}
    assert {("post", "/api/v1/events/"), ("get", "/api/v1/events/")} <= found
    assert {e.name for e in ENDPOINTS} >= {"api-events"}


def test_only_the_endpoints_named_public_answer_without_credentials():
    assert {e.name for e in ENDPOINTS if e.needs == "public"} <= PUBLIC


@pytest.mark.django_db
@pytest.mark.parametrize(
    "endpoint", [e for e in ENDPOINTS if e.needs == "public" and e.name.startswith(("api", "es"))]
)
def test_the_public_endpoints_do_answer(endpoint, plain_static):
    assert _call(Client(), endpoint).status_code == 200


@pytest.mark.django_db
def test_the_elasticsearch_root_probe_is_public_but_checks_a_token_it_is_given():
    # `GET /` is answered by ingest.doors.middleware for Elasticsearch clients, not a pattern.
    assert Client().get("/", headers={"Accept": "application/json"}).status_code == 200
    wrong = Client().get("/", headers={"Authorization": "Basic ZWxhc3RpYzpub3QtYS10b2tlbg=="})
    assert wrong.status_code == 401


# ---------------------------------------------------------------- the API, every method


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", API, ids=str)
def test_no_credentials_is_401(endpoint):
    response = _call(Client(), endpoint)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", API, ids=str)
@pytest.mark.parametrize(
    "header",
    [
        "Bearer cpm_not-a-token",
        "Token cpm_not-a-token",
        "Basic ZWxhc3RpYzpub3QtYS10b2tlbg==",  # elastic:not-a-token
        "Bearer",
        "Digest abc",
    ],
)
def test_a_wrong_token_is_401(endpoint, header):
    response = _call(Client(), endpoint, Authorization=header)

    assert response.status_code == 401
    assert "error" in response.json()


@pytest.mark.parametrize("endpoint", API, ids=str)
def test_a_revoked_token_is_401(endpoint, tokens):
    response = _call(Client(), endpoint, **_bearer(tokens[f"revoked-{endpoint.needs}"]))

    assert response.status_code == 401
    assert response.json()["error"] == "This token has been revoked."


@pytest.mark.parametrize("endpoint", API, ids=str)
def test_a_token_of_the_other_scope_is_403(endpoint, tokens):
    response = _call(Client(), endpoint, **_bearer(tokens[OTHER_SCOPE[endpoint.needs]]))

    assert response.status_code == 403
    assert "scope" in response.json()["error"]


@pytest.mark.parametrize("endpoint", API, ids=str)
def test_the_right_token_is_let_in(endpoint, tokens):
    response = _let_in_call(Client(), endpoint, **_bearer(tokens[endpoint.needs]))

    _assert_let_in(response, endpoint)


def test_every_api_endpoint_has_its_expected_answer_listed():
    assert {(e.name, e.method) for e in API} == set(LET_IN)


@pytest.mark.parametrize("endpoint", API, ids=str)
def test_a_session_may_read_but_not_ingest(endpoint, user_client):
    if endpoint.needs == "read":
        _assert_let_in(_let_in_call(user_client, endpoint), endpoint)
    else:
        response = _call(user_client, endpoint)
        assert response.status_code == SESSION_REFUSED.get(endpoint.name, 401)


@pytest.mark.parametrize("endpoint", [e for e in API if e.needs == "admin"], ids=str)
def test_a_staff_session_may_change_alerts(endpoint, staff_client):
    _assert_let_in(_let_in_call(staff_client, endpoint), endpoint)


# ---------------------------------------------------------------- pages and the admin


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", PAGES, ids=str)
def test_a_page_without_login_goes_to_the_login(endpoint, tokens, plain_static):
    for headers in ({}, _bearer(tokens["read"])):  # a token is no login
        response = _call(Client(), endpoint, Accept="text/html", **headers)

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")


# The staff actions of the alerting pages (alerts/pages.py): a login that is not staff gets
# 403; a staff login gets what this says to a GET (405 from an action that only POSTs).
STAFF_PAGES = {
    "alerts-rule-new": 200,
    "alerts-rule-edit": 200,  # rule 1: the default rules are seeded
    "alerts-rule-enable": 405,
    "alerts-rule-delete": 405,
    "alerts-channel-new": 200,
    "alerts-channel-edit": 404,  # no channel 1
    "alerts-channel-delete": 405,
    "alerts-channel-test": 405,
    "alerts-silence-alert": 405,
    "alerts-silence-end": 405,
    "alerts-mute-new": 405,
    "alerts-mute-delete": 405,
}
# The weekly report's subscription forms only POST (any login subscribes itself).
POST_ONLY_PAGES = {"report-subscribe", "report-unsubscribe", "report-send-now"}


@pytest.mark.parametrize("endpoint", PAGES, ids=str)
def test_a_page_opens_after_login(endpoint, user_client):
    response = _call(user_client, endpoint, Accept="text/html")

    if endpoint.name in STAFF_PAGES:
        assert response.status_code == 403
        return
    if endpoint.name in POST_ONLY_PAGES:
        assert response.status_code == 405
        return
    assert response.status_code in (200, 302, 400, 404), response.content[:300]
    if response.status_code == 302:  # e.g. search jumping to a timeline, not to the login
        assert not response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("endpoint", [e for e in PAGES if e.name in STAFF_PAGES], ids=str)
def test_a_staff_login_opens_the_alerting_actions(endpoint, staff_client):
    response = _call(staff_client, endpoint, Accept="text/html")

    assert response.status_code == STAFF_PAGES[endpoint.name], response.content[:300]


def _admin_paths() -> list[str]:
    paths = ["/admin/", "/admin/password_change/"]
    for model in admin.site._registry:
        meta = model._meta
        base = f"/admin/{meta.app_label}/{meta.model_name}/"
        paths += [base, f"{base}add/", f"{base}1/change/", f"{base}1/delete/"]
    return paths


@pytest.mark.django_db
@pytest.mark.parametrize("path", _admin_paths())
def test_the_admin_needs_a_staff_login(path, tokens, plain_static):
    operator = get_user_model().objects.create_user("operator", password=PASSWORD)
    logged_in = Client()
    logged_in.force_login(operator)

    for client, headers in ((Client(), {}), (Client(), _bearer(tokens["read"])), (logged_in, {})):
        response = client.get(path, headers=headers)

        assert response.status_code == 302, path
        assert response["Location"].startswith("/admin/login/")


def test_staff_can_open_the_admin(staff_client):
    for model in admin.site._registry:
        meta = model._meta
        assert staff_client.get(f"/admin/{meta.app_label}/{meta.model_name}/").status_code == 200


# ---------------------------------------------------------------- CSRF


def test_a_login_post_without_the_csrf_token_is_403(db, plain_static):
    get_user_model().objects.create_user("operator", password=PASSWORD)
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse("login"), {"username": "operator", "password": PASSWORD})

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_a_login_post_with_the_csrf_token_signs_in(db, plain_static):
    get_user_model().objects.create_user("operator", password=PASSWORD)
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("login"))

    response = client.post(
        reverse("login"),
        {
            "username": "operator",
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )

    assert response.status_code == 302
    assert client.session["_auth_user_id"]


def test_the_admin_login_without_the_csrf_token_is_403(db, plain_static):
    get_user_model().objects.create_superuser("admin", password=PASSWORD)

    response = Client(enforce_csrf_checks=True).post(
        "/admin/login/", {"username": "admin", "password": PASSWORD}
    )

    assert response.status_code == 403


def test_logout_without_the_csrf_token_is_403(db, plain_static):
    user = get_user_model().objects.create_user("operator", password=PASSWORD)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    assert client.post(reverse("logout")).status_code == 403
    assert client.session["_auth_user_id"] == str(user.pk)


def test_a_session_post_to_the_api_without_the_csrf_token_is_403(db):
    user = get_user_model().objects.create_user("operator", password=PASSWORD)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post("/api/v1/events/", b"{}", content_type="application/json")

    assert response.status_code == 403


_POST_FORM = re.compile(r"<form\b[^>]*\bmethod=[\"']?post[\"']?[^>]*>(.*?)</form>", re.I | re.S)


def test_every_post_form_on_every_page_carries_the_csrf_token(user_client):
    pages = [e.path for e in PAGES] + [reverse("login")]
    forms = 0
    for path in pages:
        html = user_client.get(path, headers={"Accept": "text/html"}).content.decode()
        for body in _POST_FORM.findall(html):
            forms += 1
            assert 'name="csrfmiddlewaretoken"' in body, f"a form on {path} has no CSRF token"
    assert forms >= 1  # at least the sign-out form of the page layout


# ---------------------------------------------------------------- tokens: revocable, listed


def test_a_token_stops_working_once_revoked(db):
    secret = create_token(name="shipper", scopes=["ingest"])[1]
    client = Client(headers=_bearer(secret))
    assert client.post("/api/v1/events/", b"", content_type="application/json").status_code == 200

    call_command("revoke_token", "shipper", stdout=StringIO())

    assert client.post("/api/v1/events/", b"", content_type="application/json").status_code == 401


def test_tokens_are_listed_with_their_last_use_and_state(db):
    create_token(name="used", scopes=["ingest"])
    secret = create_token(name="used-now", scopes=["ingest"])[1]
    create_token(name="gone", scopes=["read"])
    call_command("revoke_token", "gone", stdout=StringIO())
    Client(headers=_bearer(secret)).post("/api/v1/events/", b"", content_type="application/json")
    out = StringIO()

    call_command("list_tokens", stdout=out)

    rows = {line.split()[0]: line for line in out.getvalue().splitlines()[1:]}
    assert "never" in rows["used"]
    assert "never" not in rows["used-now"] and " ok" in rows["used-now"]
    assert "revoked" in rows["gone"]
    assert secret not in out.getvalue()
