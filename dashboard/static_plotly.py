"""A staticfiles finder that serves plotly.js from the installed plotly package.

The dashboard never loads plotly.js from a CDN and never keeps a second copy in the repository:
`vendor/plotly.min.js` is the file the `plotly` Python package ships, so its version follows
pyproject.toml. `collectstatic` copies it like any other static file; `runserver` and pytest's
`live_server` find it through this finder.
"""

from __future__ import annotations

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

PLOTLY_STATIC_PATH = "vendor/plotly.min.js"
_PACKAGE_DATA = Path(plotly.__file__).resolve().parent / "package_data"
_FILE_NAME = "plotly.min.js"


class _PrefixedStorage(FileSystemStorage):
    """The package_data folder, seen by collectstatic under the `vendor/` prefix."""

    prefix = "vendor"


class PlotlyFinder(BaseFinder):
    """Finds exactly one file, `vendor/plotly.min.js`; everything else is other finders' job."""

    def __init__(self, *args, **kwargs):
        self.storage = _PrefixedStorage(location=str(_PACKAGE_DATA))

    def check(self, **kwargs):
        if (_PACKAGE_DATA / _FILE_NAME).is_file():
            return []
        return [Error(f"plotly.js not found at {_PACKAGE_DATA / _FILE_NAME}", id="pages.E001")]

    def find(self, path, find_all=False, **kwargs):
        if path != PLOTLY_STATIC_PATH:
            return [] if find_all else None
        found = str(_PACKAGE_DATA / _FILE_NAME)
        return [found] if find_all else found

    def list(self, ignore_patterns):
        yield _FILE_NAME, self.storage
