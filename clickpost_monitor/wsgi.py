import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clickpost_monitor.settings")
application = get_wsgi_application()

from clickpost_monitor.static_manifest import require_static_manifest  # noqa: E402

require_static_manifest()  # a production server without collectstatic stops here, saying so
