"""A latency histogram in every rollup row (`latency_hist`, see ingest.latency), and the two
SQL functions the batch statement and the reads use: `latency_bucket(ms)`, the SQL twin of
`ingest.latency.bucket_of`, and `latency_hist_merge(a, b)`, the element-wise sum of two stored
histograms (a rollup upsert's ON CONFLICT).

The column is added with a constant default ('{}'), which PostgreSQL stores in the catalog:
no table rewrite, however many rollup rows there are. Migration 0008 fills the histograms of
rows whose raw events are still stored.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import migrations, models

from ingest.latency import COUNT_BITS, COUNT_MASK, sql_bounds

ROLLUPS = (
    ("rollupbycategory", "ingest_rollup_category"),
    ("rollupbycode", "ingest_rollup_code"),
    ("rollupbycourier", "ingest_rollup_courier"),
    ("rollupbyaccount", "ingest_rollup_account"),
    ("rollupbycodedaily", "ingest_rollup_code_daily"),
    ("rollupbycourierdaily", "ingest_rollup_courier_daily"),
    ("rollupbyaccountdaily", "ingest_rollup_account_daily"),
)

FUNCTIONS = f"""
CREATE FUNCTION latency_bucket(ms double precision) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN width_bucket(ms, '{sql_bounds()}'::double precision[]);

CREATE FUNCTION latency_hist_merge(a bigint[], b bigint[]) RETURNS bigint[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (SELECT coalesce(array_agg((k << {COUNT_BITS}) | n ORDER BY k), '{{}}')
              FROM (SELECT v >> {COUNT_BITS} AS k, sum(v & {COUNT_MASK})::bigint AS n
                      FROM unnest(a || b) AS v GROUP BY 1) AS merged);
"""
DROP_FUNCTIONS = """
DROP FUNCTION latency_hist_merge(bigint[], bigint[]);
DROP FUNCTION latency_bucket(double precision);
"""


def _add_column(model: str, table: str) -> migrations.SeparateDatabaseAndState:
    return migrations.SeparateDatabaseAndState(
        state_operations=[
            migrations.AddField(
                model_name=model,
                name="latency_hist",
                field=ArrayField(models.BigIntegerField(), default=list),
            )
        ],
        database_operations=[
            migrations.RunSQL(
                f"ALTER TABLE {table} ADD COLUMN latency_hist bigint[] NOT NULL DEFAULT '{{}}'",
                f"ALTER TABLE {table} DROP COLUMN latency_hist",
            )
        ],
    )


class Migration(migrations.Migration):
    dependencies = [("ingest", "0006_dash_codeentry_benign")]

    operations = [
        migrations.RunSQL(FUNCTIONS, DROP_FUNCTIONS),
        *(_add_column(model, table) for model, table in ROLLUPS),
    ]
