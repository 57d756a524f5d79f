"""One throwaway PostgreSQL, migrated, shared by the fault tests of this folder."""

from __future__ import annotations

import pytest

from tests.fault.harness import Database, app_env, manage


@pytest.fixture(scope="package")
def fault_db():
    database = Database()
    try:
        manage(app_env(database.url), "migrate", "--noinput", "-v0")
        yield database
    finally:
        database.remove()
