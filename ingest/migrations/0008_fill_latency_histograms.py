"""Fill the latency histograms of the rollup rows stored before them, from the raw events that
are still there. A row is filled only when its raw events with a latency are all still stored
(their count equals its `latency_count`); older rows keep an empty histogram, so their calls
count in no percentile: a percentile's `calls` are only the calls it was computed from.
"""

from django.db import migrations

from ingest.latency import COUNT_BITS

# (table, key columns after bucket, bucket width): as ingest.store.ROLLUP_TABLES writes them.
ROLLUPS = (
    ("ingest_rollup_category", ("category",), "15 minutes"),
    ("ingest_rollup_code", ("endpoint", "category", "code"), "15 minutes"),
    ("ingest_rollup_courier", ("cp_id", "category", "code"), "15 minutes"),
    ("ingest_rollup_account", ("account_code", "category", "code"), "15 minutes"),
    ("ingest_rollup_code_daily", ("endpoint", "category", "code"), "1 day"),
    ("ingest_rollup_courier_daily", ("cp_id", "category", "code"), "1 day"),
    ("ingest_rollup_account_daily", ("account_code", "category", "code"), "1 day"),
)
_RAW_COLUMN = {"cp_id": "coalesce(cp_id, 0)"}  # the rollups key "no courier" as 0


def fill_sql(table: str, keys: tuple[str, ...], grain: str) -> str:
    raw_keys = ", ".join(f"{_RAW_COLUMN.get(key, key)} AS {key}" for key in keys)
    names = ", ".join(keys)
    same_key = " AND ".join(f"r.{key} = h.{key}" for key in ("bucket", *keys))
    return f"""
UPDATE {table} AS r SET latency_hist = h.hist
  FROM (SELECT bucket, {names}, sum(n) AS calls,
               array_agg((lb::bigint << {COUNT_BITS}) | n ORDER BY lb) AS hist
          FROM (SELECT date_bin('{grain}', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
                       {raw_keys}, latency_bucket(latency_ms) AS lb, count(*) AS n
                  FROM ingest_event WHERE latency_ms IS NOT NULL
                 GROUP BY 1, {names}, lb) AS by_latency
         GROUP BY bucket, {names}) AS h
 WHERE {same_key} AND r.latency_hist = '{{}}' AND r.latency_count = h.calls
"""


FILL = tuple(fill_sql(*rollup) for rollup in ROLLUPS)


class Migration(migrations.Migration):
    dependencies = [("ingest", "0007_rollup_latency_histograms")]

    operations = [migrations.RunSQL(FILL, migrations.RunSQL.noop)]
