"""A latency histogram in every rollup row (`latency_hist`, see ingest.latency), and the two
SQL functions the batch statement and the reads use: `latency_bucket(ms)`, the SQL twin of
`ingest.latency.bucket_of`, and `latency_hist_merge(a, b)`, the element-wise sum of two stored
histograms (a rollup upsert's ON CONFLICT; both sorted by bucket, and so is the sum).

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

-- A merge walk of two sorted arrays: about twice as fast as unnest + GROUP BY + array_agg
-- for the few elements a row holds, and it runs once per conflicting row of every batch.
CREATE FUNCTION latency_hist_merge(a bigint[], b bigint[]) RETURNS bigint[]
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    i int := 1;
    j int := 1;
    na int := coalesce(cardinality(a), 0);
    nb int := coalesce(cardinality(b), 0);
    merged bigint[] := '{{}}';
BEGIN
    WHILE i <= na OR j <= nb LOOP
        IF j > nb OR (i <= na AND (a[i] >> {COUNT_BITS}) < (b[j] >> {COUNT_BITS})) THEN
            merged := merged || a[i];
            i := i + 1;
        ELSIF i > na OR (b[j] >> {COUNT_BITS}) < (a[i] >> {COUNT_BITS}) THEN
            merged := merged || b[j];
            j := j + 1;
        ELSE  -- the same bucket: add the calls
            merged := merged || (a[i] + (b[j] & {COUNT_MASK}));
            i := i + 1;
            j := j + 1;
        END IF;
    END LOOP;
    RETURN merged;
END $$;
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
