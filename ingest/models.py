"""Tables: the code catalog, raw events (partitioned by day) and the rollups.

Which table answers which question is in docs/ARCHITECTURE.md. Rows of `Event` and of the
rollups are written only by `ingest.store`; read only by `stats.questions` and `stats.selectors`.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Func

from ingest.catalog import CATEGORIES, CodeInfo

CATEGORY_CHOICES = [(c, c.replace("_", " ")) for c in CATEGORIES]


class CodeEntry(models.Model):
    """One Clickpost code; seeded from shared/error-codes.txt, edited in the admin."""

    code = models.IntegerField(primary_key=True)
    category = models.CharField(max_length=32, choices=CATEGORY_CHOICES)
    meaning = models.CharField(max_length=300)
    is_error = models.BooleanField(default=True)
    retryable = models.BooleanField(default=False)
    action = models.CharField(max_length=300, blank=True)
    # "Already done" outcomes (seeded from the action: catalog.is_already_done): still errors by
    # SPEC's definition, but the overview shows them apart so they do not drown the failures
    # someone must act on.
    benign = models.BooleanField(
        default=False, help_text="Counted as an error, but shown apart on the overview."
    )

    class Meta:
        ordering = ["code"]
        verbose_name = "code"

    def __str__(self) -> str:
        return f"{self.code} {self.meaning}"

    def as_info(self) -> CodeInfo:
        return CodeInfo(
            self.code, self.category, self.meaning, self.is_error, self.retryable, self.action
        )


class Courier(models.Model):
    """The name last seen for a courier partner id: labels for cp_id in charts and the CSV."""

    cp_id = models.IntegerField(primary_key=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["cp_id"]

    def __str__(self) -> str:
        return f"{self.cp_id} {self.name}"


class Event(models.Model):
    """One logged Clickpost call. The table is partitioned by day on `ts` (migration 0002)."""

    id = models.BigIntegerField(primary_key=True)
    ts = models.DateTimeField()
    received_at = models.DateTimeField()
    event_key = models.CharField(max_length=140)
    endpoint = models.CharField(max_length=200)
    http_status = models.SmallIntegerField(null=True)
    code = models.IntegerField()
    category = models.CharField(max_length=32, choices=CATEGORY_CHOICES)
    is_error = models.BooleanField()
    cp_id = models.IntegerField(null=True)
    courier = models.CharField(max_length=100)
    waybill = models.CharField(max_length=100)
    order_id = models.CharField(max_length=100)
    account_code = models.CharField(max_length=100)
    message = models.TextField()
    latency_ms = models.FloatField(null=True)
    request = models.JSONField(null=True)
    response = models.JSONField(null=True)
    extra = models.JSONField()
    token = models.ForeignKey(
        "tokens.ApiToken", null=True, on_delete=models.DO_NOTHING, db_constraint=False
    )

    class Meta:
        managed = False
        db_table = "ingest_event"

    def __str__(self) -> str:
        return f"{self.ts:%Y-%m-%d %H:%M:%S} {self.endpoint} {self.code}"


class RollupCounts(models.Model):
    """Counts per bucket and category; each concrete rollup adds the dimensions it is keyed by.

    `bucket` is a UTC instant: the start of a 15-minute bucket, or of a UTC day in the `*Daily`
    tables. `cp_id` 0 and `account_code` '' stand for "not given" so that keys need no NULLs.
    Each primary key starts with `bucket`: time-range reads scan it, and it is the Citus
    distribution column (docs/SCALING.md).
    """

    bucket = models.DateTimeField()
    category = models.CharField(max_length=32)
    events = models.BigIntegerField()
    errors = models.BigIntegerField()
    latency_sum_ms = models.FloatField()
    latency_count = models.BigIntegerField()
    # The calls' latencies as a sparse histogram (ingest.latency): `bucket << 40 | calls` per
    # non-empty bucket. Rows older than the histograms (migration 0008) keep '{}'.
    latency_hist = ArrayField(models.BigIntegerField(), default=list)
    # The stripe of the writer (ingest.store: ROLLUP_STRIPES): concurrent batches add to rows of
    # their own and never wait on each other's row locks; reads add the stripes up, and
    # `compact_rollups` folds those of past buckets into stripe 0.
    part = models.SmallIntegerField(db_default=0)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H:%M} {self.category}: {self.events}"


class Rollup(RollupCounts):
    """Counts per bucket, category and code (a code determines its category: nearly free)."""

    code = models.IntegerField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H:%M} {self.category} {self.code}: {self.events}"


class RollupByCategory(RollupCounts):
    """Calls by category only: a handful of rows per quarter hour at any volume. Totals and the
    overview's timeseries by category."""

    pk = models.CompositePrimaryKey("bucket", "category", "part")

    class Meta:
        db_table = "ingest_rollup_category"


class RollupByCode(Rollup):
    """Calls by endpoint, category and code: timeseries/breakdowns over those, catalog counts."""

    pk = models.CompositePrimaryKey("bucket", "endpoint", "category", "code", "part")
    endpoint = models.CharField(max_length=200)

    class Meta:
        db_table = "ingest_rollup_code"


class RollupByCourier(Rollup):
    """Calls by courier, category and code: heatmap, courier breakdowns, the weekly CSV."""

    pk = models.CompositePrimaryKey("bucket", "cp_id", "category", "code", "part")
    cp_id = models.IntegerField()

    class Meta:
        db_table = "ingest_rollup_courier"


class RollupByAccount(Rollup):
    """Calls by account, category and code: per-account breakdowns and filters."""

    pk = models.CompositePrimaryKey("bucket", "account_code", "category", "code", "part")
    account_code = models.CharField(max_length=100)

    class Meta:
        db_table = "ingest_rollup_account"


# The daily twins: the same keys, `bucket` the start of a UTC day. The whole UTC days of a long
# window are read from them, its partial edge days from the 15-minute tables (stats.questions).


class RollupByCodeDaily(Rollup):
    """`RollupByCode` per UTC day."""

    pk = models.CompositePrimaryKey("bucket", "endpoint", "category", "code", "part")
    endpoint = models.CharField(max_length=200)

    class Meta:
        db_table = "ingest_rollup_code_daily"


class RollupByCourierDaily(Rollup):
    """`RollupByCourier` per UTC day."""

    pk = models.CompositePrimaryKey("bucket", "cp_id", "category", "code", "part")
    cp_id = models.IntegerField()

    class Meta:
        db_table = "ingest_rollup_courier_daily"


class RollupByAccountDaily(Rollup):
    """`RollupByAccount` per UTC day."""

    pk = models.CompositePrimaryKey("bucket", "account_code", "category", "code", "part")
    account_code = models.CharField(max_length=100)

    class Meta:
        db_table = "ingest_rollup_account_daily"


# Latency only, per UTC hour: shaped like the latency charts' question (a month of hourly
# percentiles by endpoint or courier), ~12 and ~30 rows an hour at any volume, where the code
# and courier rollups hold hundreds of 15-minute rows an hour. stats.sql reads them when a
# question fits their hours and dimension (`LATENCY_HOURLY`).


def _sent() -> models.GeneratedField:
    """`latency_hist` as the reads fetch it, kept by PostgreSQL (`latency_hist_sent`, migration
    0013): the elements of its binary form without the array header, concatenated cheaply."""
    return models.GeneratedField(
        expression=Func(F("latency_hist"), function="latency_hist_sent"),
        output_field=models.BinaryField(),
        db_persist=True,
    )


class LatencyByEndpointHourly(models.Model):
    """The latency histogram (ingest.latency) of the calls per UTC hour and endpoint."""

    pk = models.CompositePrimaryKey("bucket", "endpoint", "part")
    bucket = models.DateTimeField()
    endpoint = models.CharField(max_length=200)
    latency_hist = ArrayField(models.BigIntegerField(), default=list)
    latency_sent = _sent()
    part = models.SmallIntegerField(db_default=0)  # as RollupCounts.part

    class Meta:
        db_table = "ingest_rollup_latency_endpoint"

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H:%M} {self.endpoint}: {len(self.latency_hist)} buckets"


class LatencyByCourierHourly(models.Model):
    """The latency histogram (ingest.latency) of the calls per UTC hour and courier (0: none)."""

    pk = models.CompositePrimaryKey("bucket", "cp_id", "part")
    bucket = models.DateTimeField()
    cp_id = models.IntegerField()
    latency_hist = ArrayField(models.BigIntegerField(), default=list)
    latency_sent = _sent()
    part = models.SmallIntegerField(db_default=0)  # as RollupCounts.part

    class Meta:
        db_table = "ingest_rollup_latency_courier"

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H:%M} courier {self.cp_id}: {len(self.latency_hist)} bins"


class OpenFailure(models.Model):
    """Per reference (an order id, else a waybill, on one endpoint): whether its latest call
    failed, and the current failing streak. Written only by the store (`ingest.open_failures`),
    in the batch's own statement; every column is a function of the reference's stored events.

    `decided_*` is the latest call (by timestamp, then id = arrival), `closed_*` the latest
    call that closed it (a success or a benign code): a late call is placed against these two.
    `code` .. `account_code` are those of the latest call. `stale` is true only inside a batch's
    transaction, between the statement that could not merge exactly and the recomputation.
    """

    pk = models.CompositePrimaryKey("endpoint", "ref_kind", "ref")
    endpoint = models.CharField(max_length=200)
    ref_kind = models.CharField(max_length=8)  # "order" | "waybill"
    ref = models.CharField(max_length=100)
    is_open = models.BooleanField()
    decided_ts = models.DateTimeField()
    decided_id = models.BigIntegerField()
    closed_ts = models.DateTimeField(null=True)
    closed_id = models.BigIntegerField(null=True)
    first_failed_at = models.DateTimeField(null=True)
    attempts = models.IntegerField()
    code = models.IntegerField()
    cp_id = models.IntegerField()  # 0: not given, as in the rollups
    courier = models.CharField(max_length=100)
    account_code = models.CharField(max_length=100)
    order_id = models.CharField(max_length=100)
    waybill = models.CharField(max_length=100)
    stale = models.BooleanField(default=False)

    class Meta:
        db_table = "ingest_open_failure"
        indexes = [
            # The list: the longest wait first (the key breaks ties: the cursor), alone or
            # within one courier.
            models.Index(
                fields=["first_failed_at", "endpoint", "ref_kind", "ref"],
                name="open_failure_wait",
                condition=models.Q(is_open=True),
            ),
            models.Index(
                fields=["cp_id", "first_failed_at", "endpoint", "ref_kind", "ref"],
                name="open_failure_courier_wait",
                condition=models.Q(is_open=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.ref_kind} {self.ref}"


class OpenFailureDismissal(models.Model):
    """Someone handled a reference outside the product: closed up to the call `through_*` (its
    latest at the time), so only a newer failure reopens it. Kept as the audit (who, when, note)."""

    endpoint = models.CharField(max_length=200)
    ref_kind = models.CharField(max_length=8)
    ref = models.CharField(max_length=100)
    through_ts = models.DateTimeField()
    through_id = models.BigIntegerField()
    dismissed_at = models.DateTimeField()
    dismissed_by = models.CharField(max_length=150)
    note = models.TextField(max_length=2000)

    class Meta:
        db_table = "ingest_open_failure_dismissal"
        ordering = ["-dismissed_at", "-id"]
        indexes = [
            models.Index(
                fields=["endpoint", "ref_kind", "ref", "through_ts", "through_id"],
                name="open_failure_dismissal_ref",
            ),
            models.Index(fields=["dismissed_at"], name="open_failure_dismissed_at"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.ref_kind} {self.ref} dismissed by {self.dismissed_by}"
