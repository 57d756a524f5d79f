"""The real-client stage: one gunicorn for every client test (see live.py)."""

from __future__ import annotations

import pytest

from tests.shippers.live import live_app


@pytest.fixture(scope="session")
def live():
    with live_app("shippers") as app:
        yield app
