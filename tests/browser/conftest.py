"""End-to-end harness: Debian's chromium (never a downloaded browser) driven by Playwright, the
app served by pytest-django's `live_server` (static files, plotly.js included, through the
staticfiles finders), data loaded through the ingest pipeline.

The browser tests are skipped, loudly, only when /usr/bin/chromium is missing
(`make browser-deps` installs it).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.db import connection

from ingest.catalog import forget_cached_catalog

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
# Every run writes its screenshots where git does not look; UPDATE_SCREENSHOTS=1 refreshes the
# tracked ones in docs/screenshots/ (a deliberate act, so `make test` leaves the tree clean).
SCREENSHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else ROOT / ".local" / "screenshots"
)
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "browser-test-pw-1"

# Playwright's sync API keeps an asyncio loop in the test thread; the ORM calls the tests make
# (users, ingest) are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(
        reason=f"BROWSER TESTS SKIPPED: {CHROMIUM} is missing; run `make browser-deps` "
        "(apt-get install chromium) to run them"
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def plain_static_storage(settings):
    """{% static %} without a collectstatic manifest; live_server serves through the finders."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def app(live_server) -> Iterator[str]:
    """The live app's base URL, over a database holding the code catalog and no events.

    A transactional test ends with Django's flush, which empties every managed table (the
    catalog too) but not the raw events table, which Django does not manage: the catalog is
    loaded again here as migrations 0003, 0006 and 0008 load it, and the events are removed
    afterwards.
    """
    _load_catalog()
    yield live_server.url
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE ingest_event")
    forget_cached_catalog()


def _load_catalog() -> None:
    seed = importlib.import_module("ingest.migrations.0003_seed_code_catalog")
    seed.load_seed(django_apps, None)
    benign = importlib.import_module("ingest.migrations.0006_dash_codeentry_benign")
    benign.seed_benign(django_apps, None)
    from_action = importlib.import_module("ingest.migrations.0008_benign_from_already_done_action")
    from_action.benign_from_action(django_apps, None)
    forget_cached_catalog()


@pytest.fixture
def user(app, django_user_model):
    return django_user_model.objects.create_user("ops", password=PASSWORD)


class Console:
    """Errors the pages logged in the browser: CSP violations, script errors, failed loads."""

    def __init__(self):
        self.errors: list[str] = []

    def watch(self, page) -> None:
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(chromium, console):
    context = chromium.new_context(viewport=DESKTOP, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    console.watch(tab)
    yield tab
    context.close()


def log_in(page, app: str) -> None:
    page.goto(f"{app}/accounts/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{app}/")


def screenshot(page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def charts_drawn(page, count: int | None = None) -> None:
    """Wait until every [data-figure] element holds Plotly's SVG."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-figure]')]"
        ".every(el => el.querySelector('.main-svg'))"
    )
    if count is not None:
        assert page.locator("[data-figure] .main-svg").count() >= count
