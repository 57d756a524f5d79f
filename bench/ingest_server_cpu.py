"""Worker CPU per ingest request through the real server, a base tree and this one side by side.

    python -m bench.ingest_server_cpu --base /work/main [--blocks 10] [--batch 10 1000]

`bench.ingest_cpu` times the request path after the HTTP server (Django's test client); this one
times all of it: gunicorn with the deploy config (clickpost_monitor/gunicorn_conf.py, its
asyncio worker, BufferedApp, the access log), one worker per tree, both servers up at once, each
on a database migrated by its own tree (`bench_ingest_server_cpu_base`, `_new`: the two may
differ in schema). One keep-alive client posts pre-encoded DemoTraffic batches (gzip NDJSON,
distinct millisecond times) to each server in turn, in blocks (who goes first alternates), each
block on a fresh connection (keep-alive is 5 s). The figure is the worker's CPU time (/proc
utime + stime, all its threads; 10 ms ticks, so a block is long enough to count ~100 of them)
per request, median of the blocks. Both servers need a static manifest, as deployed: `manage.py
collectstatic` in each tree, or one STATIC_ROOT for both (the environment is passed on).
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench import common

NAME = "bench_ingest_server_cpu"
PER_BLOCK = {10: 200, 1000: 10}  # ~3 s and ~1 s of requests a block

_TOKEN = r"""
import django
django.setup()
from tokens.auth import create_token
print(create_token(name="server-cpu", scopes=["ingest"])[1])
"""


def _bodies(batch: int, count: int, seed: int) -> list[bytes]:
    from datetime import UTC, datetime, timedelta

    from demo.traffic import DemoTraffic

    now = datetime.now(UTC)
    traffic = DemoTraffic(now=now, days=1, per_day=count * batch, seed=seed)
    start = now - timedelta(hours=22) + timedelta(seconds=seed)
    step = timedelta(milliseconds=1)
    return [
        gzip.compress(
            "".join(
                json.dumps(traffic.record(start + step * (r * batch + k))) + "\n"
                for k in range(batch)
            ).encode()
        )
        for r in range(count)
    ]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client:
    def __init__(self, server: common.Gunicorn, token: str, batch: int) -> None:
        self.port, self.token, self.batch = server.port, token, batch
        self.worker = server.worker_pids()[0]
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def post(self, body: bytes) -> None:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/x-ndjson",
            "Content-Encoding": "gzip",
        }
        self.conn.request("POST", "/api/v1/events/", body, headers)
        answer = self.conn.getresponse()
        content = answer.read()
        if answer.status != 200 or json.loads(content)["accepted"] != self.batch:
            raise RuntimeError(f"port {self.port}: {answer.status} {content[:300]!r}")

    def block(self, bodies: list[bytes]) -> float:
        """Worker CPU ms per request of `bodies`, on a fresh connection (warmed by one post)."""
        self.conn.close()
        self.post(bodies[0])
        before = _cpu_seconds(self.worker)
        for body in bodies[1:]:
            self.post(body)
        return (_cpu_seconds(self.worker) - before) * 1000 / (len(bodies) - 1)


def _token(name: str, root: Path | None = None) -> str:
    done = subprocess.run(
        [str(root / ".venv" / "bin" / "python") if root else sys.executable, "-c", _TOKEN],
        cwd=root or common.ROOT,
        env=common.django_env(name),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def _batch(
    servers: dict[str, common.Gunicorn], tokens: dict[str, str], *, batch: int, blocks: int
) -> dict:
    """Each server's worker CPU a request of `batch` events, median of the blocks (after a
    warm-up block not counted)."""
    per_block = PER_BLOCK.get(batch, 20) + 1
    bodies = iter(_bodies(batch, per_block * (blocks + 1) * len(servers), seed=batch))
    clients = {side: Client(server, tokens[side], batch) for side, server in servers.items()}
    for client in clients.values():  # warm-up block, not counted
        client.block([next(bodies) for _ in range(per_block)])

    def measure(side: str, n: int) -> float:
        return clients[side].block([next(bodies) for _ in range(per_block)])

    def figures(ms: list[float]) -> dict:
        return {
            **common.cpu_per_request(statistics.median(ms), batch),
            "blocks_ms": [round(x, 2) for x in ms],
        }

    return common.side_by_side(batch, blocks, measure, figures)


def run(base: Path, *, blocks: int, batches: list[int]) -> dict:
    # A database per tree, migrated by that tree: the two may differ in schema.
    names = {"base": f"{NAME}_base", "new": f"{NAME}_new"}
    common.recreate_database(names["base"], root=base)
    common.recreate_database(names["new"])
    tokens = {"base": _token(names["base"], base), "new": _token(names["new"])}
    result: dict = {"load_average": os.getloadavg(), "blocks": blocks}
    with (
        common.Gunicorn(names["base"], workers=1, tag="cpu-base", root=base) as base_server,
        common.Gunicorn(names["new"], workers=1, tag="cpu-new") as new_server,
    ):
        servers = {"base": base_server, "new": new_server}
        for batch in batches:
            result[f"batch_{batch}"] = _batch(servers, tokens, batch=batch, blocks=blocks)
    for name in names.values():
        common.drop_database(name)
    return result


def main() -> None:
    description = __doc__.split("\n")[0]
    common.side_by_side_main("ingest_server_cpu", description, run, blocks=10)


if __name__ == "__main__":
    main()
