"""A worker trusts a token it looked up for TOKEN_CACHE_SECONDS: a revocation made in another
process (here: a plain UPDATE, which this process is not told of) is refused within that bound,
and at once where `revoke_token` runs."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tokens import auth
from tokens.auth import create_token
from tokens.models import ApiToken


def _post(client: Client) -> int:
    return client.post("/api/v1/events/", b"", content_type="application/json").status_code


@pytest.mark.django_db
def test_a_revocation_elsewhere_is_refused_within_the_cache_time(settings, monotonic_clock):
    settings.TOKEN_CACHE_SECONDS = 5
    secret = create_token(name="shipper", scopes=["ingest"])[1]
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    assert _post(client) == 200

    ApiToken.objects.filter(name="shipper").update(revoked_at=timezone.now())
    monotonic_clock.now += 4.9
    assert _post(client) == 200  # still inside the bound this worker trusts its copy
    monotonic_clock.now += 0.2
    assert _post(client) == 401


@pytest.mark.django_db
def test_revoke_token_is_refused_at_once_in_its_own_process(settings, monotonic_clock):
    settings.TOKEN_CACHE_SECONDS = 5
    secret = create_token(name="shipper", scopes=["ingest"])[1]
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    assert _post(client) == 200

    call_command("revoke_token", "shipper", stdout=StringIO())
    assert _post(client) == 401


@pytest.mark.django_db
def test_no_cache_time_looks_the_token_up_every_request(settings, monotonic_clock):
    settings.TOKEN_CACHE_SECONDS = 0
    secret = create_token(name="shipper", scopes=["ingest"])[1]
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    assert _post(client) == 200

    ApiToken.objects.filter(name="shipper").update(revoked_at=timezone.now())
    assert _post(client) == 401


@pytest.mark.django_db
def test_unknown_secrets_are_not_kept(settings):
    settings.TOKEN_CACHE_SECONDS = 5
    for n in range(3):
        assert _post(Client(headers={"Authorization": f"Bearer cpm_unknown{n}"})) == 401
    assert auth._found == {}
