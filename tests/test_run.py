"""`make run`'s launcher (clickpost_monitor/run.py): the web server and the alert evaluator;
stopping the launcher (SIGTERM, or Ctrl-C's SIGINT) stops every process it started, gunicorn's
workers included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import requests

from clickpost_monitor import run
from tests.fault.harness import ROOT, ensure_static_files, free_port, wait_for
from tests.ingest.test_ingest_api import server_database_url


def test_the_launcher_starts_the_web_server_and_the_alert_evaluator():
    started = run.processes("127.0.0.1:1")
    assert set(started) == {"web", "alerts"}
    assert started["alerts"].endswith("manage.py run_alerts")
    assert "clickpost_monitor.asgi:application" in started["web"]


def _descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_launcher_stops_everything_it_started(stop_with, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": server_database_url(),
        "SECRET_KEY": "test-only-launcher",
        "WEB_CONCURRENCY": "2",
    }
    ensure_static_files(env)
    log = (tmp_path / "run.log").open("w")
    launcher = subprocess.Popen(
        [sys.executable, "-m", "clickpost_monitor.run", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: _answers(port, launcher), "the launched web server", timeout=90)
        wait_for(lambda: _evaluator_among(launcher.pid), "the alert evaluator", timeout=60)
        children = _descendants(launcher.pid)
        assert len(children) >= 4, children  # gunicorn's master, two workers, the evaluator

        launcher.send_signal(stop_with)
        launcher.wait(timeout=30)
        gone, alive = psutil.wait_procs(children, timeout=30)
    finally:
        if launcher.poll() is None:
            launcher.kill()
        log.close()

    output = (tmp_path / "run.log").read_text()
    assert alive == [], f"left running: {alive}\n{output[-3000:]}"
    assert launcher.returncode == 0, "a requested stop is no error (make: 'Error 143')"
    assert "AXES" not in output and "warning" not in output.lower(), output[-3000:]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=5)


def _evaluator_among(pid: int) -> bool:
    for child in _descendants(pid):
        try:
            if "run_alerts" in " ".join(child.cmdline()):
                return True
        except psutil.NoSuchProcess:
            pass
    time.sleep(0.2)
    return False


def _answers(port: int, launcher: subprocess.Popen) -> bool:
    assert launcher.poll() is None, "the launcher exited"
    try:
        return requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=5).ok
    except requests.RequestException:
        time.sleep(0.2)
        return False
