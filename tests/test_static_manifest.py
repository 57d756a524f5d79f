"""Production settings without collectstatic (issue 12, #5). Before, the manifest lookup of
favicon.svg turned every page 404 into a 500 (and shippers aimed at a wrong path retried them).
Now: a missing manifest stops the server at start-up, saying to run collectstatic; and a page
whose static file cannot be resolved still renders, so a 404 is a 404 and a 405 a 405."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.test import Client

from tests.fault.harness import ROOT, app_env, free_port


@pytest.fixture
def no_collectstatic(settings, tmp_path):
    """DEBUG off, the production storage, and an empty STATIC_ROOT: no manifest, no files."""
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static-root"
    settings.STATIC_ROOT.mkdir()  # empty, not missing (whitenoise warns about a missing one)
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "clickpost_monitor.static_manifest.ForgivingManifestStorage"},
    }


def _client() -> Client:
    return Client(raise_request_exception=False)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/no-such-page/", "/static/nothing.css", "/no-such-door/v1"])
def test_an_unknown_page_is_a_404(no_collectstatic, path):
    assert _client().get(path, headers={"Accept": "text/html"}).status_code == 404


@pytest.mark.django_db
def test_an_unknown_api_path_is_a_json_404(no_collectstatic):
    answer = _client().post("/api/v1/no-such-thing/")

    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"), [("get", "/accounts/logout/"), ("delete", "/accounts/login/")]
)
def test_a_wrong_method_on_a_page_is_a_405(no_collectstatic, method, path):
    assert getattr(_client(), method)(path).status_code == 405


@pytest.mark.django_db
def test_a_page_whose_static_files_are_missing_renders_with_plain_names(no_collectstatic):
    answer = _client().get("/accounts/login/")

    assert answer.status_code == 200
    assert b'href="/static/favicon.svg"' in answer.content


@pytest.mark.slow
def test_the_server_refuses_to_start_without_the_manifest(tmp_path):
    env = app_env(
        "postgres://nobody@127.0.0.1:1/unused",  # never reached: start-up stops first
        STATIC_ROOT=str(tmp_path / "never-collected"),
        WEB_CONCURRENCY="1",
    )
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "clickpost_monitor.asgi:application"]
        + ["-c", "clickpost_monitor/gunicorn_conf.py", "-b", f"127.0.0.1:{free_port()}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode != 0
    assert "never-collected/staticfiles.json is missing" in done.stderr
    assert "manage.py collectstatic" in done.stderr


def test_a_worker_starts_without_false_missing_file_warnings_and_caches_hashed_files(
    caplog, settings
):
    """WhiteNoise asks every static file "immutable?" as a worker starts; the answer comes from
    the manifest, not from guessing a hash in the name (which logged ~17 "missing static file"
    warnings for source maps at every start-up, after a good collectstatic)."""
    import os

    from django.contrib.staticfiles.storage import staticfiles_storage
    from whitenoise.middleware import WhiteNoiseMiddleware

    from clickpost_monitor import static_cache
    from tests.fault.harness import ensure_static_files

    ensure_static_files({**os.environ, "SECRET_KEY": "test-only-static"})
    settings.STATIC_ROOT = ROOT / "staticfiles"  # where that wrote (the tests' own is empty)
    staticfiles_storage.hashed_files, _ = staticfiles_storage.load_manifest()  # written just now
    static_cache._hashed_urls.cache_clear()
    with caplog.at_level("WARNING", logger="clickpost_monitor.static_manifest"):
        middleware = WhiteNoiseMiddleware(lambda request: None)

    assert caplog.records == []
    hashed = staticfiles_storage.stored_name("favicon.svg")
    assert hashed != "favicon.svg"
    assert static_cache.immutable_file_test("", "/static/" + hashed)
    assert not static_cache.immutable_file_test("", "/static/favicon.svg")
    assert middleware.files  # it did index the files
