"""The raw events table, natively partitioned by day on the event's own timestamp.

Partitions are created ahead and on demand by `ingest.partitions`; retention drops whole
partitions. PostgreSQL requires every unique key of a partitioned table to contain the
partition key, hence the key (event_key, ts): the idempotency key is unique per timestamp,
which a shipper's retry of the same batch always repeats.
"""

from django.db import migrations

CREATE = """
CREATE SEQUENCE ingest_event_id_seq AS bigint;
CREATE TABLE ingest_event (
    id           bigint      NOT NULL DEFAULT nextval('ingest_event_id_seq'),
    ts           timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    event_key    text        NOT NULL,
    endpoint     text        NOT NULL,
    http_status  smallint,
    code         integer     NOT NULL,
    category     text        NOT NULL,
    is_error     boolean     NOT NULL,
    cp_id        integer,
    courier      text        NOT NULL DEFAULT '',
    waybill      text        NOT NULL DEFAULT '',
    order_id     text        NOT NULL DEFAULT '',
    account_code text        NOT NULL DEFAULT '',
    message      text        NOT NULL DEFAULT '',
    latency_ms   double precision,
    request      jsonb,
    response     jsonb,
    extra        jsonb       NOT NULL DEFAULT '{}',
    token_id     bigint,
    -- The idempotency key is the primary key: a retried event is a conflict, not a new row.
    PRIMARY KEY (event_key, ts)
) PARTITION BY RANGE (ts);
ALTER SEQUENCE ingest_event_id_seq OWNED BY ingest_event.id;
-- GET /api/v1/events/{id}/ (ids come from a sequence; not declared unique, see SCALING.md).
CREATE INDEX ingest_event_id ON ingest_event (id);
-- Newest-first listings and their cursor (ts, id).
CREATE INDEX ingest_event_ts_id ON ingest_event (ts, id);
-- Drill-down: the failures of one code in a window (events API, chart clicks).
CREATE INDEX ingest_event_code_ts ON ingest_event (code, ts);
-- errors_only listings: only failing rows, about a tenth of the table.
CREATE INDEX ingest_event_errors_ts ON ingest_event (ts, id) WHERE is_error;
-- Shipment timelines.
CREATE INDEX ingest_event_waybill ON ingest_event (waybill, ts) WHERE waybill <> '';
CREATE INDEX ingest_event_order_id ON ingest_event (order_id, ts) WHERE order_id <> '';
"""

DROP = "DROP TABLE ingest_event; DROP SEQUENCE IF EXISTS ingest_event_id_seq;"


class Migration(migrations.Migration):
    dependencies = [("ingest", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]
