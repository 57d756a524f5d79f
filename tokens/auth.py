"""Every credential form of an API token, authorized here and nowhere else:

- `Authorization: Bearer <token>`, DRF's `Token <token>`, or Basic auth whose password (or user
  name) is the token (rsyslog's Elasticsearch output can send nothing else): every API view;
- `Authorization: Splunk <token>` (the Splunk HEC door), Seq's `X-Seq-ApiKey` header or
  `?apiKey=` (the Seq doors), and `?token=` (the Logz.io door, whose clients send no header):
  only on the doors whose protocol defines them (SPEC "Protocol doors").

Scopes: an `ingest` token may only post events, a `read` token may only read, an `admin` token
manages alert rules, channels and silences (so does a staff login).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.throttling import BaseThrottle

from tokens import ratelimit
from tokens.models import SCOPE_ADMIN, SCOPE_INGEST, SCOPE_READ, SCOPES, ApiToken

TOKEN_PREFIX = "cpm_"


class TokenUser:
    """The `request.user` of a token-authenticated request: no Django user behind it."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, token: ApiToken):
        self.token = token
        self.username = f"token:{token.name}"

    def __str__(self) -> str:
        return self.username


def create_token(*, name: str, scopes: list[str]) -> tuple[ApiToken, str]:
    """Make a token; the secret is returned once and only its SHA-256 is stored."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes must be among {', '.join(SCOPES)}; got {scopes}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        name=name,
        prefix=secret[:10],
        digest=ApiToken.digest_of(secret),
        scopes=",".join(s for s in SCOPES if s in scopes),
    )
    return token, secret


# Active and revoked tokens found by digest, per process, each with when it was read: every
# request of a busy shipper would otherwise ask PostgreSQL for the same row. A revocation in
# another process (`revoke_token`) is seen within TOKEN_CACHE_SECONDS; unknown secrets are not
# kept (so the dict holds only real tokens), and the dict is bounded all the same.
_TOKENS_KEPT = 1000
_found: dict[str, tuple[float, ApiToken]] = {}
_found_lock = threading.Lock()


def token_by_digest(digest: str) -> ApiToken | None:
    """The token with this digest (active or revoked), at most TOKEN_CACHE_SECONDS old."""
    seconds = settings.TOKEN_CACHE_SECONDS
    now = time.monotonic()
    kept = _found.get(digest)
    if kept is not None and now - kept[0] < seconds:
        return kept[1]
    token = ApiToken.objects.filter(digest=digest).first()
    if token is not None and seconds > 0:
        with _found_lock:
            if len(_found) >= _TOKENS_KEPT:
                _found.clear()
            _found[digest] = (now, token)
    return token


def forget_cached_tokens() -> None:
    """This process looks every token up again (a revocation here takes effect at once)."""
    with _found_lock:
        _found.clear()


def _credentials(header: str) -> list[str]:
    """The candidate secrets an Authorization header carries (Basic: password, then user)."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() in ("bearer", "token") and value:
        return [value]
    if scheme.lower() == "basic" and value:
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed("Malformed Basic credentials.") from None
        return [c for c in (password, user) if c]
    raise exceptions.AuthenticationFailed(
        "Unsupported Authorization header: use 'Bearer <token>' or 'Token <token>'."
    )


def _token_for(secret: str) -> tuple[TokenUser, ApiToken]:
    """The active token whose secret this is; 401 otherwise."""
    token = token_by_digest(ApiToken.digest_of(secret))
    if token is None:
        raise exceptions.AuthenticationFailed("Invalid token.")
    if not token.is_active:
        raise exceptions.AuthenticationFailed("This token has been revoked.")
    return TokenUser(token), token


class ApiTokenAuthentication(BaseAuthentication):
    """The Authorization header's forms: Bearer, Token, Basic."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        for secret in _credentials(header):
            token = token_by_digest(ApiToken.digest_of(secret))
            if token is None:
                continue
            if not token.is_active:
                raise exceptions.AuthenticationFailed("This token has been revoked.")
            return TokenUser(token), token
        raise exceptions.AuthenticationFailed("Invalid token.")

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="clickpost-monitor"'


class SplunkAuthentication(ApiTokenAuthentication):
    """`Authorization: Splunk <token>` (HEC's scheme), else the usual Bearer/Token/Basic."""

    def authenticate(self, request):
        scheme, _, secret = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
        if scheme.lower() == "splunk" and secret.strip():
            return _token_for(secret.strip())
        return super().authenticate(request)

    def authenticate_header(self, request) -> str:
        return 'Splunk realm="clickpost-monitor"'


class SeqApiKeyAuthentication(ApiTokenAuthentication):
    """Seq's `X-Seq-ApiKey` header, or `?apiKey=` as Seq itself takes it; else the usual."""

    def authenticate(self, request):
        secret = request.META.get("HTTP_X_SEQ_APIKEY") or request.GET.get("apiKey")
        if secret and secret.strip():
            return _token_for(secret.strip())
        return super().authenticate(request)


class QueryTokenAuthentication(ApiTokenAuthentication):
    """Logz.io's listener takes the token from `?token=` only (its clients send no header).

    The query string is redacted from gunicorn's access log (clickpost_monitor.access_log).
    """

    def authenticate(self, request):
        secret = request.GET.get("token")
        if secret and secret.strip():
            return _token_for(secret.strip())
        return super().authenticate(request)


def request_token(request) -> ApiToken | None:
    return request.auth if isinstance(request.auth, ApiToken) else None


class CanIngest(BasePermission):
    message = "This token lacks the 'ingest' scope."

    def has_permission(self, request, view) -> bool:
        token = request_token(request)
        return token is not None and token.has_scope(SCOPE_INGEST)


class CanRead(BasePermission):
    """A logged-in user (session) or a token with the `read` scope (or `admin`, which may read
    what it manages: the people on call read the alerts they change)."""

    message = "Reading needs a logged-in session or a token with the 'read' scope."

    def has_permission(self, request, view) -> bool:
        token = request_token(request)
        if token is not None:
            return token.has_scope(SCOPE_READ) or token.has_scope(SCOPE_ADMIN)
        user = request.user
        return bool(user and user.is_authenticated)


class CanAdmin(BasePermission):
    """A staff login (session) or a token with the `admin` scope: alert rules, channels and
    silences are written by the people on call, not by a shipper or a dashboard reader."""

    message = "Changing alerts needs a staff login or a token with the 'admin' scope."

    def has_permission(self, request, view) -> bool:
        token = request_token(request)
        if token is not None:
            return token.has_scope(SCOPE_ADMIN)
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


class PerTokenThrottle(BaseThrottle):
    """Requests per minute per token, in one token bucket per token and limit kept in
    PostgreSQL (tokens.ratelimit): the limit holds across every worker and thread, exactly, and
    costs one statement per request. Refused: 429 with Retry-After (DRF's Throttled)."""

    scope_setting = "INGEST_RATE_PER_MINUTE"
    period_seconds: float = 60

    def __init__(self) -> None:
        self.retry_after: int | None = None

    def allow_request(self, request, view) -> bool:
        token = request_token(request)
        if token is None:
            return True  # no token, no request here: the permission check already refused it
        decision = ratelimit.take(
            f"{self.scope_setting}:{token.pk}",
            limit=getattr(settings, self.scope_setting),
            period_seconds=self.period_seconds,
        )
        self.retry_after = decision.retry_after
        return decision.allowed

    def wait(self) -> float | None:
        return self.retry_after


class IngestThrottle(PerTokenThrottle):
    scope_setting = "INGEST_RATE_PER_MINUTE"


class ReadThrottle(PerTokenThrottle):
    """Read tokens only: browser sessions are not rate limited (no token, allowed above)."""

    scope_setting = "READ_RATE_PER_MINUTE"
