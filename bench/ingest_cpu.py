"""Worker CPU per ingest request, in one process, a base tree and this one side by side.

    python -m bench.ingest_cpu --base /work/main [--rounds 5] [--requests 40] [--batch 10 1000]

Each tree runs in a process of its own (its own checkout and venv: `<tree>/.venv/bin/python`)
on a fresh migrated database of its own (`bench_ingest_cpu_base`, `bench_ingest_cpu_new`),
and serves `POST /api/v1/events/` through Django's test client: the whole request path after
the HTTP server (middleware, authentication, the rate limit, the body, validation, the write,
the answer), without gunicorn's own parsing. The bodies are DemoTraffic records (distinct
millisecond times over the last hours, no event_id) as gzip NDJSON, `--batch` events a
request, pre-encoded. Per round, each tree in turn (who goes first alternates) times
`--requests` requests after warm-up; the figure is process CPU time (`time.process_time`: the
worker's own CPU, little moved by other processes' load), the CPU of the request's PostgreSQL
backend (/proc, the same machine) and wall time per request and per event, medians of the
rounds. Every answer must be 200 with every event accepted.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench import common

_CHILD = r"""
import gzip, json, os, sys, time
from datetime import UTC, datetime, timedelta
import django
django.setup()
from django.test import Client
from demo.traffic import DemoTraffic
from tokens.auth import create_token

batch, requests, offset = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
now = datetime.now(UTC)
count = requests + 5
traffic = DemoTraffic(now=now, days=1, per_day=count * batch, seed=offset)
start = now - timedelta(hours=20)
step = timedelta(milliseconds=1)
bodies = []
for r in range(count):
    at = start + timedelta(seconds=offset) + step * (r * batch)
    records = [traffic.record(at + step * k) for k in range(batch)]
    bodies.append(gzip.compress("".join(json.dumps(x) + "\n" for x in records).encode()))
_, secret = create_token(name=f"cpu-{offset}-{time.time_ns()}", scopes=["ingest"])
client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
def post(body):
    answer = client.post("/api/v1/events/", body, content_type="application/x-ndjson",
                         HTTP_CONTENT_ENCODING="gzip")
    assert answer.status_code == 200, answer.content[:500]
    got = json.loads(answer.content)
    assert got["accepted"] == batch, got
for body in bodies[:5]:
    post(body)
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_backend_pid()")
    backend = cursor.fetchone()[0]
def backend_cpu():
    fields = open(f"/proc/{backend}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
db, cpu, wall = backend_cpu(), time.process_time(), time.perf_counter()
for body in bodies[5:]:
    post(body)
cpu, wall, db = time.process_time() - cpu, time.perf_counter() - wall, backend_cpu() - db
print(json.dumps({"cpu_ms": cpu * 1000 / requests, "wall_ms": wall * 1000 / requests,
                  "db_ms": db * 1000 / requests}))
"""


def _python(tree: Path) -> str:
    venv = tree / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


# Each tree's own database.
DATABASES = {side: f"bench_ingest_cpu_{side}" for side in common.SIDES}


def _prepare(tree: Path, name: str) -> None:
    common.recreate_database(name)
    subprocess.run(
        [_python(tree), "manage.py", "migrate", "-v0"],
        cwd=tree,
        env=common.django_env(name),
        check=True,
    )


def _round(tree: Path, name: str, *, batch: int, requests: int, offset: int) -> dict:
    done = subprocess.run(
        [_python(tree), "-c", _CHILD, str(batch), str(requests), str(offset)],
        cwd=tree,
        env=common.django_env(name, PYTHONPATH=str(tree)),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{tree}: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _batch(
    trees: dict[str, Path], *, batch: int, batches: list[int], rounds: int, requests: int
) -> dict:
    """Each tree's CPU, backend CPU and wall time a request of `batch` events, medians of the
    rounds."""

    def measure(side: str, n: int) -> dict:
        offset = (len(batches) * n + batches.index(batch)) * 900  # fresh each round
        return _round(trees[side], DATABASES[side], batch=batch, requests=requests, offset=offset)

    def figures(runs: list[dict]) -> dict:
        cpu, wall, db = (
            statistics.median(r[key] for r in runs) for key in ("cpu_ms", "wall_ms", "db_ms")
        )
        return {
            **common.cpu_per_request(cpu, batch),
            "wall_ms_per_request": round(wall, 3),
            "db_backend_cpu_ms_per_request": round(db, 3),
        }

    return common.side_by_side(batch, rounds, measure, figures)


def run(base: Path, *, rounds: int, requests: int, batches: list[int]) -> dict:
    trees = {"base": base, "new": common.ROOT}
    for side, tree in trees.items():
        _prepare(tree, DATABASES[side])
    result: dict = {"load_average": os.getloadavg(), "rounds": rounds, "requests": requests}
    for batch in batches:
        result[f"batch_{batch}"] = _batch(
            trees, batch=batch, batches=batches, rounds=rounds, requests=requests
        )
    for name in DATABASES.values():
        common.drop_database(name)
    return result


def main() -> None:
    description = __doc__.split("\n")[0]
    common.side_by_side_main("ingest_cpu", description, run, rounds=5, requests=40)


if __name__ == "__main__":
    main()
