"""Which static files may be cached for ever: WHITENOISE_IMMUTABLE_FILE_TEST (settings.py
imports this module, so it imports nothing of Django's at module level)."""

from __future__ import annotations

import functools


@functools.cache
def _hashed_urls() -> frozenset[str]:
    from django.conf import settings
    from django.contrib.staticfiles.storage import staticfiles_storage

    hashed = getattr(staticfiles_storage, "hashed_files", {}) or {}
    return frozenset(settings.STATIC_URL + name for name in hashed.values())


def immutable_file_test(path: str, url: str) -> bool:
    """WhiteNoise's test of "may this file be cached for ever?", asked of every static file as a
    worker starts: yes for the hashed names collectstatic wrote (the manifest's values).

    WhiteNoise's own test guesses a hash from the name and looks the unhashed name up in the
    storage, which for files that only look hashed (`swagger-ui.map`) is a miss that
    `ForgivingManifestStorage` would log as a missing static file at every start-up."""
    return url in _hashed_urls()
