from django.apps import AppConfig


class TokensConfig(AppConfig):
    """API tokens: authentication, scopes, throttles, token services and ingest health."""

    name = "tokens"
