"""Protocol doors, for shippers that speak only their own protocol (OTLP/HTTP logs, Loki push,
Elasticsearch bulk, Splunk HEC, Seq, ...: the list is SPEC's "Protocol doors" and
docs/SHIPPERS.md).

Each door is thin: decode the protocol into `pipeline.RawItem`s (records.py says how a log record
becomes an event), hand them to `ingest.pipeline.ingest_items` (the same validation, dedupe,
rollups, limits and token counts as `POST /api/v1/events/`), and answer as the protocol's own
server would.
"""
