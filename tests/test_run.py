"""`make run`'s launcher (clickpost_monitor/run.py): the web server, the alert evaluator and
the report scheduler under supervisord; a process killed with SIGKILL is restarted and logged
while the others keep serving; stopping the launcher (SIGTERM, or Ctrl-C's SIGINT) stops every
process it started, gunicorn's workers included."""

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


def test_the_launcher_starts_the_web_server_the_alert_evaluator_and_the_reports(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://elsewhere/db")
    started = run.processes("127.0.0.1:1")
    assert set(started) == {"web", "alerts", "reports", "rollups"}
    assert started["alerts"].endswith("manage.py run_alerts")
    assert started["reports"].endswith("manage.py run_reports")
    assert "clickpost_monitor.asgi:application" in started["web"]


def test_links_follow_the_address_served():
    assert run.base_url("127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert run.base_url("0.0.0.0:9000") == "http://127.0.0.1:9000"


def test_on_the_embedded_demo_database_the_demo_traffic_goes_on(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    started = run.processes("127.0.0.1:1")
    assert set(started) == {"web", "alerts", "reports", "rollups", "demo"}
    assert started["demo"].endswith("manage.py demo_trickle")


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


def _found(probe, what: str, *, timeout: float = 60):
    """Poll `probe` until it returns something; that thing (fail the test with `what`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
    raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")


def _child(pid: int, marker: str) -> psutil.Process | None:
    """The launched process whose command line holds `marker` (a supervisord child)."""
    for child in _descendants(pid):
        try:
            if marker in " ".join(child.cmdline()) and "supervisord" not in child.name():
                parent = child.parent()
                if parent is not None and marker not in " ".join(parent.cmdline()):
                    return child
        except psutil.NoSuchProcess:
            pass
    time.sleep(0.2)
    return None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_killed_process_is_restarted_and_the_other_keeps_serving(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": server_database_url(),
        "SECRET_KEY": "test-only-launcher",
        "WEB_CONCURRENCY": "1",
    }
    ensure_static_files(env)
    log_path = tmp_path / "run.log"
    log = log_path.open("w")
    launcher = subprocess.Popen(
        [sys.executable, "-m", "clickpost_monitor.run", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: _answers(port, launcher), "the launched web server", timeout=90)
        evaluator = _found(lambda: _child(launcher.pid, "run_alerts"), "the evaluator")
        web = _found(lambda: _child(launcher.pid, "gunicorn"), "the web server")

        evaluator.kill()  # SIGKILL: no chance to clean up
        assert _answers(port, launcher)  # the web server did not notice
        again = _found(
            lambda: (p := _child(launcher.pid, "run_alerts")) and p.pid != evaluator.pid and p,
            "the evaluator restarted",
        )

        web.kill()
        _found(
            lambda: (p := _child(launcher.pid, "gunicorn")) and p.pid != web.pid,
            "the web server restarted",
        )
        wait_for(lambda: _answers(port, launcher), "the restarted web server", timeout=90)
        assert again.is_running()  # the evaluator kept running meanwhile
    finally:
        launcher.send_signal(signal.SIGTERM)
        try:
            launcher.wait(timeout=40)
        finally:
            if launcher.poll() is None:
                launcher.kill()
            log.close()
    text = log_path.read_text()
    assert "exited: alerts (terminated by SIGKILL; not expected)" in text, text[-3000:]
    assert "exited: web (terminated by SIGKILL; not expected)" in text, text[-3000:]


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
