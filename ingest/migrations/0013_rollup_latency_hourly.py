"""The hourly latency rollups (`ingest_rollup_latency_endpoint`, `ingest_rollup_latency_courier`:
one histogram per UTC hour and endpoint, or courier), which the latency charts read instead of
merging the 15-minute rollups' histograms on every request (stats.sql `LATENCY_HOURLY`).

Filled here from the 15-minute rollups' own histograms (`ingest_rollup_code` by endpoint,
`ingest_rollup_courier` by courier), not from the raw events: those histograms are what every
latency answer reads today, they outlive the raw rows, and so the new tables answer exactly
what the old reads answered, for every hour the rollups hold (hours older than the raw events
included). Four 15-minute rows per hour merge into one: the same sparse encoding, buckets added.

Each row also keeps its histogram as sent (`latency_sent`, generated from `latency_hist`): the
elements of `array_send` without the array's header, (int32 length, int64 value) each. A read
of a month of hours concatenates these with `string_agg` (a memcpy per row) instead of calling
`array_send`, an `int8send` per element, on 340,000 elements at 10 M events: 30 ms of a 60 ms
answer. Writes keep merging `latency_hist` (`latency_hist_merge`); the copy costs a few µs a row
and 12 bytes an element.
"""

import django.contrib.postgres.fields
from django.db import migrations, models
from django.db.models import F, Func

from ingest.latency import COUNT_BITS, COUNT_MASK

# (new table, its key, the 15-minute rollup it is filled from)
HOURLY = (
    ("ingest_rollup_latency_endpoint", "endpoint", "ingest_rollup_code"),
    ("ingest_rollup_latency_courier", "cp_id", "ingest_rollup_courier"),
)


def fill_sql(table: str, key: str, source: str) -> str:
    return f"""
INSERT INTO {table} (bucket, {key}, latency_hist)
SELECT bucket, {key}, array_agg((lb << {COUNT_BITS}) | n ORDER BY lb)
  FROM (SELECT date_bin('1 hour', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
               {key}, v >> {COUNT_BITS} AS lb, sum(v & {COUNT_MASK})::bigint AS n
          FROM {source} CROSS JOIN LATERAL unnest(latency_hist) AS h(v)
         GROUP BY 1, 2, 3) AS by_latency
 GROUP BY bucket, {key}
"""


# The bytes of a one-dimensional binary array before its first element; '{}' (12 bytes alone)
# is sent as none. IMMUTABLE (array_send is only STABLE, as a type's send function may be):
# true of bigint's, and a generated column needs it.
SENT_FUNCTION = """
CREATE FUNCTION latency_hist_sent(h bigint[]) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN substring(array_send(h) FROM 21);
"""


def _sent() -> models.GeneratedField:
    return models.GeneratedField(
        expression=Func(F("latency_hist"), function="latency_hist_sent"),
        output_field=models.BinaryField(),
        db_persist=True,
    )


def _hist() -> django.contrib.postgres.fields.ArrayField:
    return django.contrib.postgres.fields.ArrayField(
        base_field=models.BigIntegerField(), default=list, size=None
    )


class Migration(migrations.Migration):
    dependencies = [("ingest", "0012_merge_open_failures_and_latency")]

    operations = [
        migrations.RunSQL(SENT_FUNCTION, "DROP FUNCTION IF EXISTS latency_hist_sent(bigint[]);"),
        migrations.CreateModel(
            name="LatencyByCourierHourly",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "bucket",
                        "cp_id",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("bucket", models.DateTimeField()),
                ("cp_id", models.IntegerField()),
                ("latency_hist", _hist()),
                ("latency_sent", _sent()),
            ],
            options={"db_table": "ingest_rollup_latency_courier"},
        ),
        migrations.CreateModel(
            name="LatencyByEndpointHourly",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "bucket",
                        "endpoint",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("bucket", models.DateTimeField()),
                ("endpoint", models.CharField(max_length=200)),
                ("latency_hist", _hist()),
                ("latency_sent", _sent()),
            ],
            options={"db_table": "ingest_rollup_latency_endpoint"},
        ),
        migrations.RunSQL([fill_sql(*hourly) for hourly in HOURLY], migrations.RunSQL.noop),
        # Statistics now, not at autovacuum's leisure: the planner saw 71 rows for 9,360.
        migrations.RunSQL([f"ANALYZE {table}" for table, *_ in HOURLY], migrations.RunSQL.noop),
    ]
