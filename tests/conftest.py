"""Shared fixtures. Every database test runs against a real PostgreSQL (DATABASE_URL, or the
embedded server started by the settings)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from ingest.auth import create_token


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
