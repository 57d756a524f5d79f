"""The management commands an operator types: tokens (create, revoke, list) and demo data."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient

from ingest.models import Event
from tests import clock
from tests.ingest.test_ingest_api import URL, event, ndjson
from tests.ingest.test_store import assert_rollups_equal_raw_counts, stored_count
from tokens.models import ApiToken


def run(*args: str) -> tuple[str, str]:
    """(stdout, stderr) of `manage.py ARGS`."""
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def post_as(secret: str, body: bytes):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client.generic("POST", URL, body, content_type="application/x-ndjson")


# ---------------------------------------------------------------- tokens


def test_create_token_prints_the_secret_once_and_stores_only_its_hash(db):
    out, err = run("create_token", "fluent-bit-prod", "--scope", "ingest")

    secret = out.strip()
    token = ApiToken.objects.get(name="fluent-bit-prod")
    assert out == secret + "\n" and secret.startswith("cpm_") and len(secret) > 30
    assert secret not in err and "shown once" in err
    assert token.digest == ApiToken.digest_of(secret)
    assert token.prefix == secret[:10]
    with connection.cursor() as cursor:
        cursor.execute("SELECT t::text FROM ingest_apitoken t")
        assert secret not in " ".join(row for (row,) in cursor.fetchall())
    assert post_as(secret, ndjson([event(1)])).status_code == 200


@pytest.mark.parametrize(
    "scope, stored, can_post",
    [("ingest", "ingest", True), ("read", "read", False), ("read, ingest", "ingest,read", True)],
)
def test_create_token_scopes_decide_what_the_token_may_do(db, scope, stored, can_post):
    secret = run("create_token", "shipper", "--scope", scope)[0].strip()

    assert ApiToken.objects.get(name="shipper").scopes == stored
    assert post_as(secret, ndjson([event(1)])).status_code == (200 if can_post else 403)


@pytest.mark.parametrize("scope", ["write", "ingest,superuser", "", " , "])
def test_create_token_refuses_an_unknown_or_empty_scope(db, scope):
    with pytest.raises(CommandError, match="scopes must be among ingest, read"):
        run("create_token", "shipper", "--scope", scope)
    assert not ApiToken.objects.exists()


def test_create_token_refuses_a_name_in_use(db):
    run("create_token", "shipper")
    with pytest.raises(CommandError, match="exists"):
        run("create_token", "shipper")
    assert ApiToken.objects.count() == 1


def test_a_revoked_token_is_refused_at_its_next_request(db):
    secret = run("create_token", "shipper")[0].strip()
    assert post_as(secret, ndjson([event(1)])).status_code == 200

    out, _ = run("revoke_token", "shipper")
    refused = post_as(secret, ndjson([event(2)]))

    assert "Revoked 'shipper'" in out
    assert refused.status_code == 401
    assert "revoked" in json.loads(refused.content)["error"]
    assert stored_count() == 1


@pytest.mark.parametrize("name", ["nobody", "revoked-already"])
def test_revoke_token_refuses_a_name_with_no_active_token(db, name):
    run("create_token", "revoked-already")
    run("revoke_token", "revoked-already")
    with pytest.raises(CommandError, match="No active token"):
        run("revoke_token", name)


def test_list_tokens_shows_each_tokens_counts_last_use_and_state(db):
    busy = run("create_token", "busy-shipper")[0].strip()
    run("create_token", "idle-reader", "--scope", "read")
    run("create_token", "old-shipper")
    run("revoke_token", "old-shipper")
    broken = run("create_token", "broken-shipper")[0].strip()
    post_as(busy, ndjson([event(1), event(2), {"endpoint": "order_create"}]))
    post_as(busy, ndjson([event(1)]))  # a clean request after the error: the status is ok again
    post_as(broken, ndjson([{"endpoint": "order_create"}]))

    lines = run("list_tokens")[0].splitlines()

    assert lines[0].split()[:6] == [
        "name",
        "prefix",
        "scopes",
        "accepted",
        "duplicates",
        "rejected",
    ]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"busy-shipper", "broken-shipper", "idle-reader", "old-shipper"}
    assert rows["busy-shipper"].split()[2:6] == ["ingest", "2", "1", "1"]
    # The Shippers page's status (tokens.health): an old error under a newer success is "ok".
    assert rows["busy-shipper"].rstrip().endswith(" ok")
    assert "errors: 1 rejected; event 0" in rows["broken-shipper"]
    assert rows["idle-reader"].split()[2:7] == ["read", "0", "0", "0", "never"]
    assert rows["idle-reader"].rstrip().endswith("unused")
    assert rows["old-shipper"].rstrip().endswith("revoked")


def test_list_tokens_never_prints_a_secret(db):
    secret = run("create_token", "shipper")[0].strip()
    out = run("list_tokens")[0]
    assert secret[:10] in out and secret not in out


# ---------------------------------------------------------------- demo data


# The demo's traffic is laid out backwards from now (its busy hours, its incidents), so how
# many calls it makes depends on the moment: 8,061 at 2027-12-08 04:09 UTC, past the band
# below. The test runs at one fixed moment (the clock travelled: tests/clock.py).
DEMO_MOMENT = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def test_generate_demo_data_writes_realistic_traffic_with_its_incidents(db):
    with clock.travel(DEMO_MOMENT):
        out, _ = run("generate_demo_data", "--days", "2", "--per-day", "3000")

    stored = stored_count()
    assert out.splitlines()[0] == f"Demo data: {stored} events stored, 0 duplicates skipped."
    assert 4000 < stored < 8000
    rows = list(Event.objects.values_list("endpoint", "cp_id", "account_code", "code", "is_error"))
    assert len({endpoint for endpoint, *_ in rows}) == 13
    assert len({cp_id for _, cp_id, *_ in rows}) >= 12
    assert len({account for _, _, account, *_ in rows}) == 12
    assert len({code for *_, code, _ in rows}) >= 20
    assert 0.04 < sum(is_error for *_, is_error in rows) / stored < 0.3
    # The credentials incident: most 324s belong to the one account it hits.
    accounts_324 = Counter(account for _, _, account, code, _ in rows if code == 324)
    assert accounts_324.most_common(1)[0][0] == "freshcart"
    assert accounts_324["freshcart"] > sum(accounts_324.values()) / 2
    assert_rollups_equal_raw_counts()


def test_setup_demo_makes_the_login_and_the_traffic_once(db):
    first, _ = run("setup_demo", "--days", "1")
    events = stored_count()
    second, _ = run("setup_demo", "--days", "1")

    user = get_user_model().objects.get()
    assert (user.username, user.is_superuser) == ("demo", True)
    assert user.check_password("clickpost-demo")
    assert events > 1000 and stored_count() == events
    assert "Generating 1 days" in first and "Generating" not in second
    assert "http://127.0.0.1:8000/" in second


def test_setup_demo_leaves_a_database_with_events_alone(db, ingest_client):
    ingest_client.generic("POST", URL, ndjson([event(1)]), content_type="application/x-ndjson")

    out, _ = run("setup_demo")

    assert "Generating" not in out
    assert stored_count() == 1
    assert get_user_model().objects.filter(username="demo").exists()
