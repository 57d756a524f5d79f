"""Shared fixtures. Every database test runs against a real PostgreSQL (DATABASE_URL, or the
embedded server started by the settings)."""

from __future__ import annotations

import itertools
import time

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from ingest import store
from ingest.catalog import forget_cached_catalog
from ingest.partitions import forget_known_partitions
from ingest.store import forget_key_version
from tests import clock, read_dataset
from tokens.auth import create_token, forget_cached_tokens


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """The catalog is cached per process for 30 s; a test that changed catalog rows inside a
    rolled-back transaction must not leave its copy to the next test (or its module fixtures).
    So are the days known to have a partition (a rolled-back test may have made some), the
    tokens a worker keeps, and when the first content-key version ended."""
    forget_cached_catalog()
    forget_known_partitions()
    forget_cached_tokens()
    forget_key_version()


@pytest.fixture(scope="session", autouse=True)
def _empty_static_root(tmp_path_factory) -> None:
    """The tests' requests run without collectstatic's files (the page tests name static files
    without a manifest), so STATIC_ROOT is an empty folder of their own: whitenoise warns about
    a missing one, and a staticfiles/ left by `make run` or a server test changes nothing."""
    settings.STATIC_ROOT = tmp_path_factory.mktemp("static-root")


@pytest.fixture(scope="session", autouse=True)
def _batches_take_turns_at_the_rollup_stripes() -> None:
    """Each batch a test writes goes to the next rollup stripe (a server writes one stripe per
    connection), so every read the tests check adds up several stripes of a key, as reads do
    under concurrent writers."""
    turns = itertools.cycle(range(store.ROLLUP_STRIPES))
    store.stripe_of = lambda _session: next(turns)


@pytest.fixture
def monotonic_clock(monkeypatch) -> clock.MonotonicClock:
    """`time.monotonic` stands where it was when the test began, and moves only when the test
    moves it (`monotonic_clock.now += 5`). It starts at the real reading, not at a fixed number,
    so that what was timed before (a kept connection's CONN_MAX_AGE end) stays in the future:
    on a machine up for less than ~15 minutes a fixed 1000.0 read as past it."""
    stand_in = clock.MonotonicClock(time.monotonic())
    monkeypatch.setattr(time, "monotonic", stand_in)
    return stand_in


@pytest.fixture
def ingest_token(db) -> str:
    return create_token(name="test-ingest", scopes=["ingest"])[1]


@pytest.fixture
def read_token(db) -> str:
    return create_token(name="test-read", scopes=["read"])[1]


@pytest.fixture
def api(db) -> APIClient:
    return APIClient()


@pytest.fixture
def ingest_client(api, ingest_token) -> APIClient:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {ingest_token}")
    return api


@pytest.fixture
def read_client(db, read_token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {read_token}")
    return client


@pytest.fixture(scope="module")
def read_dataset_loaded(django_db_setup, django_db_blocker):
    """The read tests' generated data set (tests/read_dataset.py), committed once per module
    that asks for it and cleared after that module."""
    loaded = read_dataset.loaded(django_db_blocker)
    yield loaded
    with django_db_blocker.unblock():
        read_dataset.clear()
        read_dataset.drop_days_past_the_horizon()


@pytest.fixture
def events(read_dataset_loaded):
    """The read data set, and the clock at its NOW for the test (its dates are fixed)."""
    with clock.travel(read_dataset.NOW):
        yield read_dataset_loaded
