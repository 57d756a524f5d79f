"""The app as gunicorn serves it (worker_class "asgi", clickpost_monitor/gunicorn_conf.py):
Django behind `BufferedApp` (clickpost_monitor/buffered.py says why). Importing this module
builds the application, so a production server without its static manifest refuses to start."""

from __future__ import annotations

import os
from typing import cast

from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

from clickpost_monitor.buffered import ASGIApp, BufferedApp, Direct

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clickpost_monitor.settings")


def _application() -> BufferedApp:
    django_app = get_asgi_application()  # sets Django up: settings are readable below
    from django.conf import settings

    from clickpost_monitor.static_manifest import require_static_manifest
    from ingest.doors.handler import LeanDoorHandler
    from ingest.doors.middleware import routes_to_door

    require_static_manifest()

    # django-stubs types the scope as a dict and messages as read-only Mappings; at run time
    # they are the same ASGI dicts BufferedApp passes on.
    return BufferedApp(
        cast(ASGIApp, django_app),
        threads=settings.WEB_THREADS,
        max_body_bytes=settings.INGEST_MAX_BYTES,
        body_seconds=settings.REQUEST_BODY_SECONDS,
        # A shipper's POST in one hop to the thread (buffered.py says why), answered past
        # Django's handler when its door admits it (ingest/doors/handler.py): small answers.
        direct=Direct(
            LeanDoorHandler(get_wsgi_application()),
            lambda scope: scope["method"] == "POST" and routes_to_door(scope["path"]),
        ),
    )


application = _application()
