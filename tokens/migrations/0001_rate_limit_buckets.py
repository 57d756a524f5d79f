"""The per-token rate limits' buckets (tokens.ratelimit): one row per token and limit.

UNLOGGED: no WAL for counts that a crash may lose without harm (a lost bucket is a full one).
A table of its own, not Django's cache table: the bucket is updated by one INSERT ... ON
CONFLICT DO UPDATE, which a cache backend cannot express.
"""

from django.db import migrations

CREATE = """
CREATE UNLOGGED TABLE IF NOT EXISTS tokens_rate_bucket (
    key     text        NOT NULL PRIMARY KEY,
    tat     timestamptz NOT NULL,
    seen    timestamptz NOT NULL,
    refused boolean     NOT NULL DEFAULT false
);
"""


class Migration(migrations.Migration):
    initial = True

    operations = [migrations.RunSQL(CREATE, "DROP TABLE IF EXISTS tokens_rate_bucket;")]
