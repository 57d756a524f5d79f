"""The whole benchmark suite in one command; writes docs/PERFORMANCE.md.

    make bench                         # the full run: 1 M events ingested, reads at 1 M and 10 M
    BENCH_SCALE=small make bench       # a smoke run of every step in a few minutes

Knobs (environment; defaults per scale in SCALES):
    BENCH_SCALE        full | small
    BENCH_ONLY         steps to run, comma-separated, among: ingest, ingest_small, cpu, reads,
                       explain, alerts, open, latency
    BENCH_INGEST_EVENTS, BENCH_RUNS    events posted per ingest round, rounds (medians)
    BENCH_READ_EVENTS  the two database sizes, e.g. 1000000,10000000
    BENCH_READ_RUNS    timed rounds of the read paths
    BENCH_INGEST_SWEEP WORKERSxCLIENTS pairs timed first on BENCH_SWEEP_EVENTS events; the
                       fastest is measured (default 3x6,4x8,5x10; empty: BENCH_WORKERS/CLIENTS)
    BENCH_WORKERS      gunicorn WEB_CONCURRENCY for reads, and for ingest without a sweep
                       (default 2 x cores + 1, gunicorn_conf.py's own default)
    BENCH_CLIENTS      concurrent ingest clients without a sweep (default 10)
    BENCH_LOAD_JOBS    connections loading days in parallel (default 2)
    BENCH_CPU_BASE     a git revision whose worker CPU per request the cpu step measures side by
                       side with this tree's (default: this tree against itself, a noise check)
    BENCH_REUSE=1      keep a loaded database of the same size, loader and migrations
    BENCH_KEEP_DBS=1   keep bench_ingest afterwards (read databases are always kept for reuse)

Every step runs in its own process on its own `bench_*` database of the app's PostgreSQL server
(DATABASE_URL when set, else the embedded one). Figures: bench/out/*.json, then the report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import common, load, report

SCALES = {
    "full": {
        "ingest_events": 1_000_000,
        "sweep_events": 100_000,
        "runs": 3,
        "read_events": [1_000_000, 10_000_000],
        "read_runs": 20,
        "small_events": 100_000,
    },
    "small": {
        "ingest_events": 20_000,
        "sweep_events": 10_000,
        "runs": 3,
        "read_events": [20_000, 200_000],
        "read_runs": 10,
        "small_events": 10_000,
    },
}
STEPS = ("ingest", "ingest_small", "cpu", "reads", "explain", "alerts", "open", "latency")
# 1,000-event batches per round of the open failures' ingest comparisons (6 clients, 5 rounds).
OPEN_INGEST_BATCHES = 60
READ_STEPS = {"reads", "explain", "alerts", "open", "latency"}  # on the loaded databases
# The figures this suite writes to bench/out/ (other bench commands keep theirs there too).
OWN_FIGURES = (
    "machine",
    "ingest",
    "ingest_small",
    "ingest_cpu",
    "profile_ingest",
    "load_verify",
    "reads",
    "explain_*",
    "alerts_eval",
    "open_failures",
    "open_failures_ingest_*",
    "ingest_server_cpu",
    "latency_*",
)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def settings() -> dict:
    scale = os.environ.get("BENCH_SCALE", "full")
    if scale not in SCALES:
        raise SystemExit(f"BENCH_SCALE={scale!r}: use one of {', '.join(SCALES)}")
    base = SCALES[scale]
    only = [s.strip() for s in os.environ.get("BENCH_ONLY", ",".join(STEPS)).split(",") if s]
    unknown = set(only) - set(STEPS)
    if unknown:
        raise SystemExit(f"BENCH_ONLY: unknown steps {sorted(unknown)}; among {STEPS}")
    read_events = os.environ.get("BENCH_READ_EVENTS")
    return {
        "scale": scale,
        "only": only,
        "ingest_events": _env_int("BENCH_INGEST_EVENTS", base["ingest_events"]),
        "runs": _env_int("BENCH_RUNS", base["runs"]),
        "read_events": [int(n) for n in read_events.split(",")]
        if read_events
        else base["read_events"],
        "read_runs": _env_int("BENCH_READ_RUNS", base["read_runs"]),
        "workers": _env_int("BENCH_WORKERS", 2 * len(os.sched_getaffinity(0)) + 1),
        "clients": _env_int("BENCH_CLIENTS", 10),
        "sweep": os.environ.get("BENCH_INGEST_SWEEP", "3x6,4x8,5x10"),
        "sweep_events": _env_int("BENCH_SWEEP_EVENTS", base["sweep_events"]),
        "small_events": _env_int("BENCH_SMALL_EVENTS", base["small_events"]),
        "load_jobs": _env_int("BENCH_LOAD_JOBS", 2),
        "reuse": os.environ.get("BENCH_REUSE") == "1",
        "keep_dbs": os.environ.get("BENCH_KEEP_DBS") == "1",
        "cpu_base": os.environ.get("BENCH_CPU_BASE", ""),
    }


def db_name(events: int) -> str:
    return "bench_" + report.count_label(events).replace(" ", "").replace(".", "_").lower()


def python(*args: str, env: dict | None = None) -> None:
    """`python -m ...` of this tree; fails the step when it fails. `env`: the whole environment."""
    subprocess.run([sys.executable, *args], cwd=common.ROOT, env=env, check=True)


# ---------------------------------------------------------------- steps


def _bench_ingest(cfg: dict, events: int, *sweep: str, env: dict | None = None) -> None:
    """bench.ingest end to end: `events` events a round, with the run's rounds, workers and
    clients; `sweep`: its --sweep arguments; `env`: the whole environment (None: this one)."""
    python(
        "-m",
        "bench.ingest",
        "--events",
        str(events),
        "--runs",
        str(cfg["runs"]),
        "--workers",
        str(cfg["workers"]),
        "--clients",
        str(cfg["clients"]),
        *sweep,
        env=env,
    )


def step_ingest(cfg: dict) -> None:
    sweep = ("--sweep", cfg["sweep"], "--sweep-events", str(cfg["sweep_events"]))
    _bench_ingest(cfg, cfg["ingest_events"], *sweep)
    common.run_step("profile_ingest", "bench_ingest")
    if not cfg["keep_dbs"]:
        common.drop_database("bench_ingest")


def step_ingest_small(cfg: dict) -> None:
    """The same end-to-end run with 10-event requests (how OTLP and Loki clients push)."""
    env = {
        **os.environ,
        "BENCH_INGEST_BATCH": "10",
        "BENCH_INGEST_FIGURES": "ingest_small",
        "BENCH_INGEST_DB": "bench_ingest_small",
    }
    _bench_ingest(cfg, cfg["small_events"], "--sweep", "", env=env)
    if not cfg["keep_dbs"]:
        common.drop_database("bench_ingest_small")


def step_cpu(cfg: dict) -> None:
    """Worker CPU per request through gunicorn, this tree beside BENCH_CPU_BASE's checkout."""
    collectstatic(cfg, name="bench_ingest_server_cpu")
    env = {**os.environ, "STATIC_ROOT": str(common.ROOT / "staticfiles")}  # one manifest
    revision = cfg["cpu_base"]
    if not revision:
        _server_cpu(common.ROOT, env)
        return
    with tempfile.TemporaryDirectory(prefix="cpm-bench-base-") as folder:
        base = Path(folder) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(base), revision],
            cwd=common.ROOT,
            check=True,
        )
        try:
            (base / ".venv").symlink_to(common.ROOT / ".venv")  # the same packages
            _server_cpu(base, env)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(base)], cwd=common.ROOT, check=False
            )


def _server_cpu(base: Path, env: dict) -> None:
    python("-m", "bench.ingest_server_cpu", "--base", str(base), env=env)


def step_verify_loader(cfg: dict) -> None:
    common.recreate_database("bench_verify_ref")
    try:
        common.run_step("load", "bench_verify_ref", "--verify")
    finally:
        common.drop_database("bench_verify_ref")
        common.drop_database(load.VERIFY_FAST)


def step_load(cfg: dict) -> None:
    for events in cfg["read_events"]:
        name = db_name(events)
        note = load.reusable(name, events=events) if cfg["reuse"] else None
        if note:
            common.log(f"reusing {name} (loaded {note['loaded_at']})")
            continue
        common.log(f"loading {events:,} events into {name}")
        note = load.load(name, events=events, jobs=cfg["load_jobs"])
        common.log(f"loaded {name} in {note['seconds']} s {note['phases_seconds']}")
        common.log(f"  tables: {note['tables']}")


def step_reads(cfg: dict) -> None:
    names = [db_name(n) for n in cfg["read_events"]]
    args = [arg for name in names for arg in ("--db", name)]
    python(
        "-m",
        "bench.reads",
        *args,
        "--runs",
        str(cfg["read_runs"]),
        "--workers",
        str(cfg["workers"]),
    )


def step_explain(cfg: dict) -> None:
    for events in cfg["read_events"]:
        common.run_step("explain", db_name(events))


def step_alerts(cfg: dict) -> None:
    """One evaluation minute of 100 rules at each size, and the 14-day preview by courier."""
    python("-m", "bench.alerts_eval", *_db_args(cfg))


def step_open(cfg: dict) -> None:
    """The open-failure list and summary on the largest database, the plan of the stale rows'
    rebuild there, and ingest with and without the state side by side (concurrent writers)."""
    biggest = db_name(max(cfg["read_events"]))
    python("-m", "bench.open_failures", "--db", biggest, "--runs", str(cfg["read_runs"]))
    for how in ("--http", "--in-process"):
        for streams in ("own", "dealt"):
            python(
                "-m", "bench.open_failures", "--ingest-only", how, "--streams", streams,
                "--batches", str(OPEN_INGEST_BATCHES),
            )  # fmt: skip


def step_latency(cfg: dict) -> None:
    """The 30-day hourly latency series and the overview with its latency chart, each size."""
    names = ",".join(db_name(events) for events in cfg["read_events"])
    python(
        "-m",
        "bench.latency",
        "--db",
        names,
        "--events",
        "",
        "--no-ingest",
        "--runs",
        str(cfg["read_runs"]),
    )


def _db_args(cfg: dict) -> list[str]:
    return [arg for events in cfg["read_events"] for arg in ("--db", db_name(events))]


def collectstatic(cfg: dict, name: str | None = None) -> None:
    """Pages and servers need the static manifest, as in a deployment (`make run` does this)."""
    name = name or db_name(cfg["read_events"][0])
    if not common.database_exists(name):
        common.recreate_database(name)
    common.manage(name, "collectstatic", "--noinput", "-v0")


# ---------------------------------------------------------------- the run


def main() -> None:
    cfg = settings()
    started = time.monotonic()
    common.OUT.mkdir(parents=True, exist_ok=True)
    for step in OWN_FIGURES:
        for stale in common.OUT.glob(f"{step}.json"):
            stale.unlink()  # a report never mixes figures of two runs
    common.save("machine", {**common.machine(), "scale": cfg["scale"], "settings": cfg})
    common.log(f"bench: {cfg}")
    plan: list[tuple[str, Callable[[dict], None]]] = []
    if "ingest" in cfg["only"]:
        plan.append(("ingest", step_ingest))
    if "ingest_small" in cfg["only"]:
        plan.append(("ingest_small", step_ingest_small))
    if "cpu" in cfg["only"]:
        plan.append(("cpu", step_cpu))
    if READ_STEPS & set(cfg["only"]):
        plan += [("verify loader", step_verify_loader), ("load", step_load)]
    steps = {
        "reads": step_reads,
        "explain": step_explain,
        "alerts": step_alerts,
        "open": step_open,
        "latency": step_latency,
    }
    plan += [(name, step) for name, step in steps.items() if name in cfg["only"]]
    failed = []
    for name, step in plan:
        common.log(f"== {name}")
        try:
            if name in ("reads", "latency"):  # they load pages
                collectstatic(cfg)
            step(cfg)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            common.log(f"step {name} FAILED; going on with the others")
    report.main()
    minutes = (time.monotonic() - started) / 60
    common.log(f"bench done in {minutes:.1f} min; failed steps: {failed or 'none'}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
