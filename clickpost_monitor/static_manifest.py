"""The static files' manifest must exist before a production server starts (issue 12, #5).

With DEBUG off, `{% static %}` looks each file up in STATIC_ROOT/staticfiles.json, which
`manage.py collectstatic` writes. Without it every page (404 pages included) raised
"Missing staticfiles manifest entry" and answered 500. Now the server refuses to start, naming
the fix; and a manifest that lacks one entry (a file added since) links the plain name instead
of failing the page (WHITENOISE_MANIFEST_STRICT = False in settings).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

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
