"""Where an ingest request's time goes, stage by stage, in one process (no HTTP, no concurrency).

    python -m bench.profile_ingest [--batches 20]   (a Django process on bench_ingest)

Each 1,000-event gzip NDJSON batch (DemoTraffic records, as bench.ingest sends them) goes
through the stages of `POST /api/v1/events/` one at a time: `doors.http.read_body` (gunzip),
`framing.split_events` (JSON), `pipeline.clean_items` (validation, tagging, redaction, content
hash), `store.write_events` (one statement: the INSERT ... ON CONFLICT, 7 rollup upserts and
the token's counts). Reported: the median microseconds per event of each stage, and the
functions where `clean_items` spends its time (cProfile, by own time).
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import io
import json
import pstats
import sysconfig
import time
from datetime import UTC, datetime, timedelta

from bench import common

BATCH = 1000


def _bodies(batches: int, now: datetime) -> list[bytes]:
    from demo.traffic import DemoTraffic

    traffic = DemoTraffic(now=now, days=1, per_day=batches * BATCH, seed=99)
    step = timedelta(hours=20) / (batches * BATCH)
    start = now - timedelta(hours=21)
    out = []
    for b in range(batches):
        records = [traffic.record(start + (b * BATCH + k) * step) for k in range(BATCH)]
        out.append(gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode()))
    return out


def profile(batches: int) -> dict:
    from ingest import framing, pipeline, store
    from ingest.catalog import current_catalog
    from ingest.doors import http as door_http
    from tokens.auth import create_token

    token, _ = create_token(name=f"bench-profile-{time.time_ns()}", scopes=["ingest"])
    now = datetime.now(UTC)
    bodies = _bodies(batches, now)
    current_catalog()  # loaded once per 30 s in a worker; not a per-batch cost
    stages: dict[str, list[float]] = {k: [] for k in ("gunzip", "json", "clean", "write")}
    profiler = cProfile.Profile()
    for body in bodies:
        t0 = time.perf_counter()
        raw = door_http.read_body(
            io.BytesIO(body), content_length=len(body), content_encoding="gzip", max_bytes=10**7
        )
        t1 = time.perf_counter()
        items = framing.split_events(raw, content_type="application/x-ndjson")
        t2 = time.perf_counter()
        clean, outcome = pipeline.clean_items([pipeline.RawItem(v) for v in items], now=now)
        t3 = time.perf_counter()
        use = store.TokenUse(token.pk, rejected=outcome.rejected)
        store.write_events(clean, token_id=token.pk, received_at=now, token_use=use)
        t4 = time.perf_counter()
        for key, seconds in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            stages[key].append(seconds * 1e6 / len(items))
    # The profiler slows what it watches: a separate pass, for the shares only.
    items = framing.split_events(gzip.decompress(bodies[0]), content_type="application/x-ndjson")
    profiler.enable()
    pipeline.clean_items([pipeline.RawItem(v) for v in items], now=now)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(12)
    per_event = {k: round(common.median(v), 1) for k, v in stages.items()}
    return {
        "batches": batches,
        "batch": BATCH,
        "us_per_event": per_event,
        "total_us_per_event": round(sum(per_event.values()), 1),
        "clean_profile": _trim(text.getvalue()),
    }


def _trim(report: str) -> str:
    """pstats' table without its preamble, paths shortened to the project or the stdlib."""
    lines = report.splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    stdlib = sysconfig.get_paths()["stdlib"] + "/"
    kept = [
        line.replace(str(common.ROOT) + "/", "").replace(stdlib, "")
        for line in lines[start:]
        if line.strip()
    ]
    return "\n".join(kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    common.setup_django()
    result = profile(args.batches)
    common.save("profile_ingest", result)
    common.log(f"ingest stages, µs per event (one process): {result['us_per_event']}")


if __name__ == "__main__":
    main()
