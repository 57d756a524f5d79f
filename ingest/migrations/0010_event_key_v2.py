"""The second content-key version ("h2:", orjson's sorted-key JSON): when it took over.

`ingest_keyversion` holds the time from which events are keyed "h2:"; before it (and up to 5
minutes after, the future an event may have) an event may be stored under "h:", so ingest also
looks that key up for such events (ingest.store.legacy_keys_before). A database with no event
yet has nothing under "h:": its time is NULL and nothing is ever looked up twice.
"""

from django.db import migrations

CREATE = """
CREATE TABLE ingest_keyversion (
    version smallint PRIMARY KEY,
    since timestamptz  -- NULL: no event was stored before it
);
INSERT INTO ingest_keyversion (version, since)
SELECT 2, CASE WHEN EXISTS (SELECT 1 FROM ingest_event) THEN now() END;
"""


class Migration(migrations.Migration):
    dependencies = [("ingest", "0009_merge_benign_and_cache_sweep")]

    operations = [migrations.RunSQL(CREATE, "DROP TABLE ingest_keyversion")]
