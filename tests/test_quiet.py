"""A clean start prints the start-up banner and nothing else: no library banner (django-axes),
no warning (platformdirs, whitenoise, import-linter) in a command's, a worker's or the tests'
output. The launcher's exit status on a requested stop: tests/test_run.py."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest

from tests.fault.harness import ROOT

ROOMS = ["clickpost_monitor", "ingest", "stats", "tokens", "dashboard", "demo", "alerts"]


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_management_command_prints_only_its_own_output():
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY") or "quiet-test-key"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("System check identified no issues (0 silenced).\n", "")


@pytest.mark.slow
def test_stopping_the_embedded_database_prints_nothing(tmp_path):
    """`make db-stop` where XDG_RUNTIME_DIR is unset (platformdirs warned on each use)."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    data = tmp_path / "pgdata"
    started = _python(
        "from pathlib import Path; from clickpost_monitor.embedded_db import embedded_database_url;"
        f" embedded_database_url(Path({str(data)!r}))",
        env,
    )
    assert started.returncode == 0, started.stderr
    assert (data / "postmaster.pid").exists()
    stopped = _python(
        "from pathlib import Path; from clickpost_monitor.embedded_db import stop;"
        f" stop(Path({str(data)!r}))",
        env,
    )
    assert (stopped.returncode, stopped.stdout, stopped.stderr) == (0, "", "")
    assert not (data / "postmaster.pid").exists()


def test_no_module_of_the_rooms_is_a_name_the_import_checker_skips():
    """import-linter (grimp) skips and warns about a module file with more dots in its name."""
    dotted = [
        str(path.relative_to(ROOT))
        for room in ROOMS
        for path in (ROOT / room).rglob("*.py")
        if path.name.count(".") > 1
    ]
    assert dotted == []


def test_a_page_request_in_the_tests_warns_of_nothing(client, db):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert client.get("/accounts/login/").status_code == 200
