"""API tokens: a shipper's or reader's credential, and its ingest counts.

The table keeps the name the first release migrated (`ingest_apitoken`): the model moved to the
room that owns credentials without moving a row (tokens migration 0002). Its counts are written
by the ingest batch statement (ingest/store.py), in the same statement as the rows they count.
"""

from __future__ import annotations

import hashlib

from django.db import models

SCOPE_INGEST = "ingest"
SCOPE_READ = "read"
SCOPE_ADMIN = "admin"
SCOPES = (SCOPE_INGEST, SCOPE_READ, SCOPE_ADMIN)


class ApiToken(models.Model):
    """A shipper's or reader's credential. Only the SHA-256 of the secret is stored."""

    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a token")
    digest = models.CharField(max_length=64, unique=True)
    scopes = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    accepted = models.BigIntegerField(default=0)
    duplicates = models.BigIntegerField(default=0)
    rejected = models.BigIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "ingest_apitoken"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def digest_of(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(s for s in self.scopes.split(",") if s)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return self.is_active and scope in self.scope_set
