"""One evaluation minute of 100 alert rules, at two database sizes (the target: p50 <= 2 s
at 10 M events, and a cost that does not grow with the raw events).

    python -m bench.alerts_eval                     # 1 M and 10 M events (BENCH_ALERT_EVENTS)
    BENCH_ALERT_EVENTS=1000000,3000000 python -m bench.alerts_eval
    python -m bench.alerts_eval --db bench_alerts_1m --db bench_10m   # databases already loaded

Each size is loaded by bench.load into `bench_alerts_<n>` (reused when already loaded), then a
Django process on it (`--measure`) makes 100 rules and times `evaluate_minute` on several
minutes of the last loaded day, each minute once (ticks are claimed), and reports the median:
- 34 `error_rate` rules grouped by courier (30 couriers), windows of 5, 15 and 60 minutes and
  thresholds that differ (rules sharing a question share one count);
- 33 `anomaly` rules grouped by courier over 8 weeks;
- 33 ungrouped rules: errors of some codes, error rate of a category, calls below a floor,
  on filters of endpoint, code and account.
No channel is attached: sending is the outbox's, after the commit, not the evaluation's.
Each size is timed twice, on different minutes: with the raw edge minutes read once for all
rules (`shared`, what the evaluator does) and once per rule (`per_rule`, as before), so the two
compare side by side under the same load. The shared minutes are also split into their reads
(`read_median_seconds`: the rules' counts, which grow with the data) and the rest (stepping
and writing, which grow with the groups alerting: more couriers pass the rules' volume floors
at 10 M, so more states and transitions). Then the 14-day preview of an `error_rate` rule
grouped by courier (`alerts.services.preview_rule`, what the API's preview calls), PREVIEWS
times, median, and the same rule ungrouped once.
The rules, ticks, states and history are made inside one transaction rolled back at the end:
a database given by `--db` (loaded by someone else, e.g. bench_10m) is left as it was.
Figures go to bench/out/alerts_eval.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from bench import common
from bench.load import ACCOUNTS

DEFAULT_SIZES = "1000000,10000000"
MINUTES = 7
PREVIEWS = 3
PREVIEW_RULE = {
    "name": "bench preview",
    "metric": "error_rate",
    "group_by": "cp_id",
    "window_minutes": 15,
    "threshold": 0.2,
    "min_calls": 20,
}


def rules() -> list[dict]:
    made = []
    for n in range(34):
        made.append(
            {
                "name": f"bench error rate {n}",
                "metric": "error_rate",
                "group_by": "cp_id",
                "window_minutes": (5, 15, 60)[n % 3],
                "threshold": 0.2 + n / 100,
                "min_calls": 20,
            }
        )
    for n in range(33):
        made.append(
            {
                "name": f"bench anomaly {n}",
                "metric": "anomaly",
                "group_by": "cp_id",
                "window_minutes": (15, 60)[n % 2],
                "threshold": 0.001,
                "weeks": 8,
                "min_calls": 20,
            }
        )
    endpoints = ["order_create", "tracking_register", "serviceability", "label"]
    for n in range(33):
        kind = n % 3
        if kind == 0:
            made.append(
                {
                    "name": f"bench errors of codes {n}",
                    "metric": "errors",
                    "code": [[316, 324], [500, 503, 504], [323]][n % 9 // 3],
                    "window_minutes": 15,
                    "threshold": 10 + n,
                }
            )
        elif kind == 1:
            made.append(
                {
                    "name": f"bench category rate {n}",
                    "metric": "error_rate",
                    "category": [["server"], ["service"], ["order_creation"]][n % 9 // 3],
                    "endpoint": [endpoints[n % 4]],
                    "window_minutes": 30,
                    "threshold": 0.5,
                }
            )
        else:
            made.append(
                {
                    "name": f"bench silent {n}",
                    "metric": "calls",
                    "direction": "below",
                    "window_minutes": 30,
                    "threshold": 1 + n,
                    "account_code": [ACCOUNTS[n % len(ACCOUNTS)]],
                }
            )
    return made


def measure() -> dict:
    """In a Django process on the bench database: make the rules, time the minutes and the
    preview, all in one transaction rolled back (the database is left as it was)."""
    common.setup_django()
    from django.db import transaction

    with transaction.atomic():
        figures = _evaluations()
        figures["preview"] = _previews()
        transaction.set_rollback(True)
    return figures


def _evaluations() -> dict:
    from alerts.evaluator import evaluate_minute
    from alerts.models import AlertState, Rule, Tick, Transition

    note = common.database_note(urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/")) or {}
    Rule.objects.all().delete()
    Tick.objects.all().delete()
    for fields in rules():
        Rule.objects.create(tz="Asia/Kolkata", **fields)
    from alerts.values import Reader

    last_day = datetime.fromisoformat(note["end"]) - timedelta(days=1)
    start = last_day + timedelta(hours=8, minutes=7)  # 13:37 IST: busy hours, unaligned
    shared_edges = Reader.share_edges
    timed: dict[str, list[float]] = {"shared": [], "per_rule": []}
    reads: list[float] = []
    for n in range(2 * MINUTES):
        way = "shared" if n % 2 == 0 else "per_rule"  # interleaved: the same load for both
        Reader.share_edges = shared_edges if way == "shared" else lambda self, questions: None
        began = time.perf_counter()
        outcome = evaluate_minute(start + timedelta(minutes=n))
        timed[way].append(time.perf_counter() - began)
        assert outcome.evaluated and not outcome.errors, outcome.errors[:3]
        if way == "shared":
            reads.append(outcome.read_seconds)
    Reader.share_edges = shared_edges
    seconds = timed["shared"]
    rest = [total - read for total, read in zip(seconds, reads, strict=True)]
    return {
        "events": note.get("events"),
        "rules": Rule.objects.count(),
        "minutes": MINUTES,
        "seconds": [round(s, 4) for s in seconds],
        "median_seconds": round(statistics.median(seconds), 4),
        "max_seconds": round(max(seconds), 4),
        "per_rule_median_seconds": round(statistics.median(timed["per_rule"]), 4),
        # The shared minutes split: the reads (grow with the data) and the rest (stepping
        # and writing: grow with the groups alerting, `states` and `transitions` below).
        "read_median_seconds": round(statistics.median(reads), 4),
        "rest_median_seconds": round(statistics.median(rest), 4),
        "states": AlertState.objects.count(),
        "transitions": Transition.objects.count(),
    }


def _previews() -> dict:
    """The 14-day preview grouped by courier, PREVIEWS times, and ungrouped once."""
    from alerts.services import preview_rule

    timed, answer = [], {}
    for _ in range(PREVIEWS):
        began = time.perf_counter()
        answer = preview_rule(days=14, **PREVIEW_RULE)
        timed.append(time.perf_counter() - began)
    began = time.perf_counter()
    preview_rule(days=14, **(PREVIEW_RULE | {"group_by": "none"}))
    return {
        "rule": PREVIEW_RULE,
        "days": 14,
        "seconds": [round(s, 3) for s in timed],
        "median_seconds": round(statistics.median(timed), 3),
        "ungrouped_seconds": round(time.perf_counter() - began, 3),
        "fired": answer["fired"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", action="store_true", help="(internal) the timed step")
    parser.add_argument(
        "--db",
        action="append",
        help="an already loaded bench database (repeatable; nothing is loaded, nothing kept)",
    )
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure()))
        return
    results = {"machine": common.machine(), "commit": common.git_commit(), "sizes": []}
    for name in args.db or _loaded():
        common.log(f"evaluating 100 rules on {name}")
        done = _measure(name)
        common.log(
            f"{name}: median {done['median_seconds']} s shared, "
            f"{done['per_rule_median_seconds']} s per rule, over {done['minutes']} minutes each"
        )
        common.log(
            f"{name}: of which reads {done['read_median_seconds']} s, stepping and writing "
            f"{done['rest_median_seconds']} s ({done['states']} states, "
            f"{done['transitions']} transitions)"
        )
        common.log(
            f"{name}: preview 14 days by courier, median {done['preview']['median_seconds']} s"
        )
        results["sizes"].append(done)
    common.save("alerts_eval", results)
    print(json.dumps(results, indent=2))


def _loaded() -> list[str]:
    """bench_alerts_<n>m for each size of BENCH_ALERT_EVENTS, loaded when not already."""
    from bench import load  # noqa: PLC0415 - the loader only when loading

    names = []
    for events in [int(n) for n in os.environ.get("BENCH_ALERT_EVENTS", DEFAULT_SIZES).split(",")]:
        name = f"bench_alerts_{events // 1_000_000}m"
        if load.reusable(name, events=events) is None:
            common.log(f"loading {events:,} events into {name}")
            load.load(name, events=events)
        names.append(name)
    return names


def _measure(name: str) -> dict:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "bench.alerts_eval", "--measure"],
        cwd=common.ROOT,
        env=common.django_env(name),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"measuring {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
