"""The category rollup (bucket, category) and the daily twins of the code, courier and account
rollups (`bucket` at UTC midnight). Written by `ingest.store` in the batch statement; which reads
use them: docs/ARCHITECTURE.md. They are filled here from the 15-minute rollups, which hold the
same counts (and outlive the raw partitions that retention drops).
"""

from django.db import migrations, models

_DAY = "date_bin('1 day', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
_SUMS = "sum(events), sum(errors), sum(latency_sum_ms), sum(latency_count)"
_MEASURES = "events, errors, latency_sum_ms, latency_count"
BACKFILL = (  # a tuple: RunSQL takes a sequence of statements
    f"INSERT INTO ingest_rollup_category (bucket, category, {_MEASURES}) "
    f"SELECT bucket, category, {_SUMS} FROM ingest_rollup_code GROUP BY 1, 2",
    *(
        f"INSERT INTO ingest_rollup_{family}_daily (bucket, {dim}, category, code, {_MEASURES}) "
        f"SELECT {_DAY}, {dim}, category, code, {_SUMS} FROM ingest_rollup_{family} "
        "GROUP BY 1, 2, 3, 4"
        for family, dim in (("code", "endpoint"), ("courier", "cp_id"), ("account", "account_code"))
    ),
)


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0004_rate_limit_cache_table"),
    ]

    operations = [
        migrations.CreateModel(
            name="RollupByAccountDaily",
            fields=[
                ("bucket", models.DateTimeField()),
                ("category", models.CharField(max_length=32)),
                ("events", models.BigIntegerField()),
                ("errors", models.BigIntegerField()),
                ("latency_sum_ms", models.FloatField()),
                ("latency_count", models.BigIntegerField()),
                ("code", models.IntegerField()),
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "bucket",
                        "account_code",
                        "category",
                        "code",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("account_code", models.CharField(max_length=100)),
            ],
            options={
                "db_table": "ingest_rollup_account_daily",
            },
        ),
        migrations.CreateModel(
            name="RollupByCategory",
            fields=[
                ("bucket", models.DateTimeField()),
                ("category", models.CharField(max_length=32)),
                ("events", models.BigIntegerField()),
                ("errors", models.BigIntegerField()),
                ("latency_sum_ms", models.FloatField()),
                ("latency_count", models.BigIntegerField()),
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "bucket",
                        "category",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
            ],
            options={
                "db_table": "ingest_rollup_category",
            },
        ),
        migrations.CreateModel(
            name="RollupByCodeDaily",
            fields=[
                ("bucket", models.DateTimeField()),
                ("category", models.CharField(max_length=32)),
                ("events", models.BigIntegerField()),
                ("errors", models.BigIntegerField()),
                ("latency_sum_ms", models.FloatField()),
                ("latency_count", models.BigIntegerField()),
                ("code", models.IntegerField()),
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "bucket",
                        "endpoint",
                        "category",
                        "code",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("endpoint", models.CharField(max_length=200)),
            ],
            options={
                "db_table": "ingest_rollup_code_daily",
            },
        ),
        migrations.CreateModel(
            name="RollupByCourierDaily",
            fields=[
                ("bucket", models.DateTimeField()),
                ("category", models.CharField(max_length=32)),
                ("events", models.BigIntegerField()),
                ("errors", models.BigIntegerField()),
                ("latency_sum_ms", models.FloatField()),
                ("latency_count", models.BigIntegerField()),
                ("code", models.IntegerField()),
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "bucket",
                        "cp_id",
                        "category",
                        "code",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("cp_id", models.IntegerField()),
            ],
            options={
                "db_table": "ingest_rollup_courier_daily",
            },
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
