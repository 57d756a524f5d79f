"""The static files' manifest must exist before a production server starts.

With DEBUG off, `{% static %}` looks each file up in STATIC_ROOT/staticfiles.json, which
`manage.py collectstatic` writes. Without it every page (404 pages included) would raise
"Missing staticfiles manifest entry" and answer 500. So the server refuses to start, naming
the fix (`require_static_manifest`, called by the ASGI and WSGI entry points); and a lookup that
still fails (a manifest older than a file, a file deleted) links the plain name and logs a
warning instead of failing the page (`ForgivingManifestStorage`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from whitenoise.storage import CompressedManifestStaticFilesStorage

log = logging.getLogger(__name__)

MANIFEST_NAME = "staticfiles.json"


def manifest_path() -> Path:
    return Path(settings.STATIC_ROOT) / MANIFEST_NAME


def require_static_manifest() -> None:
    """Raise ImproperlyConfigured when DEBUG is off and collectstatic has not run."""
    if settings.DEBUG:
        return  # static files are served from the finders, no manifest involved
    path = manifest_path()
    if not path.is_file():
        raise ImproperlyConfigured(
            f"The static files' manifest {path} is missing: run `python manage.py "
            "collectstatic --noinput` before starting the server (DEBUG is off)."
        )


class ForgivingManifestStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's compressed, hashed static files; a name it cannot resolve is linked as is.

    A missing stylesheet makes a plain page; a 500 instead of every 404 would make shippers aimed
    at a wrong path retry for ever."""

    manifest_strict = False  # not in the manifest: hash the file itself, if it is there

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError as error:  # neither in the manifest nor in STATIC_ROOT
            log.warning("static file %s: %s; run collectstatic", name, error)
            return name
