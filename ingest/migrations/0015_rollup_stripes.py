"""Rollup rows striped by writer: a `part` column in each rollup's key (ingest.store's
ROLLUP_STRIPES). Concurrent batches add to rows of their own stripe instead of waiting on each
other's row locks until commit; reads add the stripes up (they already summed rows), and
`fold_rollups` (ingest.rollups) folds the stripes of past buckets back into stripe 0.
Existing rows are stripe 0, so nothing is rewritten but the primary keys."""

from django.db import migrations, models

# table -> its key columns after `bucket` (as in 0005 and 0013).
KEYS = {
    "ingest_rollup_category": "category",
    "ingest_rollup_code": "endpoint, category, code",
    "ingest_rollup_courier": "cp_id, category, code",
    "ingest_rollup_account": "account_code, category, code",
    "ingest_rollup_code_daily": "endpoint, category, code",
    "ingest_rollup_courier_daily": "cp_id, category, code",
    "ingest_rollup_account_daily": "account_code, category, code",
    "ingest_rollup_latency_endpoint": "endpoint",
    "ingest_rollup_latency_courier": "cp_id",
}
FORWARD = "".join(
    f"ALTER TABLE {table} ADD COLUMN part smallint NOT NULL DEFAULT 0;"
    f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, ADD PRIMARY KEY (bucket, {keys}, part);"
    for table, keys in KEYS.items()
)


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0014_drop_unused_open_failure_stale_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD, migrations.RunSQL.noop)],
            state_operations=[
                migrations.AddField(
                    model_name="latencybycourierhourly",
                    name="part",
                    field=models.SmallIntegerField(db_default=0),
                ),
                migrations.AddField(
                    model_name="latencybyendpointhourly",
                    name="part",
                    field=models.SmallIntegerField(db_default=0),
                ),
                migrations.AddField(
                    model_name="rollupbyaccount",
                    name="part",
                    field=models.SmallIntegerField(db_default=0),
                ),
                migrations.AddField(
                    model_name="rollupbyaccountdaily",
                    name="part",
                    field=models.SmallIntegerField(db_default=0),
                ),
                migrations.AddField(
                    model_name="rollupbycategory",
                    name="part",
                    field=models.SmallIntegerField(db_default=0),
                ),
                migrations.AddField(
                    model_name="rollupbycode",
                    name="part",
                    field=models.SmallIntegerField(db_default=0),
                ),
                migrations.AddField(
                    model_name="rollupbycodedaily",
                    name="part",
                    field=models.SmallIntegerField(db_default=0),
                ),
                migrations.AddField(
                    model_name="rollupbycourier",
                    name="part",
                    field=models.SmallIntegerField(db_default=0),
                ),
                migrations.AddField(
                    model_name="rollupbycourierdaily",
                    name="part",
                    field=models.SmallIntegerField(db_default=0),
                ),
                migrations.AlterField(
                    model_name="latencybycourierhourly",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        "bucket",
                        "cp_id",
                        "part",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                migrations.AlterField(
                    model_name="latencybyendpointhourly",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        "bucket",
                        "endpoint",
                        "part",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                migrations.AlterField(
                    model_name="rollupbyaccount",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        "bucket",
                        "account_code",
                        "category",
                        "code",
                        "part",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                migrations.AlterField(
                    model_name="rollupbyaccountdaily",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        "bucket",
                        "account_code",
                        "category",
                        "code",
                        "part",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                migrations.AlterField(
                    model_name="rollupbycategory",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        "bucket",
                        "category",
                        "part",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                migrations.AlterField(
                    model_name="rollupbycode",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        "bucket",
                        "endpoint",
                        "category",
                        "code",
                        "part",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                migrations.AlterField(
                    model_name="rollupbycodedaily",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        "bucket",
                        "endpoint",
                        "category",
                        "code",
                        "part",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                migrations.AlterField(
                    model_name="rollupbycourier",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        "bucket",
                        "cp_id",
                        "category",
                        "code",
                        "part",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                migrations.AlterField(
                    model_name="rollupbycourierdaily",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        "bucket",
                        "cp_id",
                        "category",
                        "code",
                        "part",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
            ],
        ),
    ]
