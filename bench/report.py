"""docs/PERFORMANCE.md from the figures in bench/out/: machine, every figure, the targets.

    python -m bench.report

Only the part between the `bench:begin` and `bench:end` markers is rewritten; anything else in
the file (hand-written analysis, another benchmark's section) is kept as it is.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench import common

DOC = common.ROOT / "docs" / "PERFORMANCE.md"
BEGIN = "<!-- bench:begin (written by `make bench`: bench/report.py; edits here are lost) -->"
END = "<!-- bench:end -->"
TITLE = "# Performance\n"

INGEST_RATIO = 0.5
OVERVIEW_MS = 50
OVERVIEW_GROWTH = 1.5
DRILL_MS = 20
CSV_MS = 1000
# "The same" peak memory: within 10 % or 5 MiB of the smaller database's, whichever is larger.
MEMORY_SLACK = (0.10, 5.0)
OVERVIEW_KEYS = ("timeseries", "breakdown_code", "breakdown_courier")


def count_label(n: int) -> str:
    for size, unit in ((1_000_000, " M"), (1_000, " k")):
        if n >= size:
            value = n / size
            return f"{value:g}{unit}" if value == int(value) else f"{value:.1f}{unit}"
    return str(n)


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


# ---------------------------------------------------------------- targets


def targets(ingest: dict | None, reads: dict | None, explains: list[dict]) -> list[tuple]:
    """(target, measured, verdict) rows."""
    rows = []
    if ingest:
        rows += _copy_ratios("ingest of 1,000-event batches", ingest, INGEST_RATIO)
    else:
        rows.append((f"ingest ≥ {INGEST_RATIO} × COPY", "not run", _met(None)))
    if reads:
        rows += _read_targets(reads)
    else:
        rows.append(("reads at scale", "not run", _met(None)))
    if explains:
        flagged = [
            f"{e['database']}: {key}"
            for e in explains
            for key, p in e["paths"].items()
            if any(q["raw_seq_scan"] for q in p["queries"])
        ]
        rows.append(
            (
                "no sequential scan of raw events on a dashboard path",
                "none" if not flagged else "Seq Scan on ingest_event in " + "; ".join(flagged),
                _met(not flagged),
            )
        )
    return rows


def _scales(reads: dict) -> tuple[str, str]:
    dbs = sorted(reads["databases"], key=lambda name: reads["databases"][name]["stored"])
    return dbs[0], dbs[-1]


def _p50(reads: dict, key: str, db: str) -> float | None:
    return reads["timings_ms"].get(key, {}).get(db, {}).get("p50")


def _read_targets(reads: dict) -> list[tuple]:
    small, big = _scales(reads)
    n_small = count_label(reads["databases"][small]["stored"])
    n_big = count_label(reads["databases"][big]["stored"])
    rows = []
    for key in OVERVIEW_KEYS:
        label = reads["paths"][key]["label"].removeprefix("overview: ")
        at_big, at_small = _p50(reads, key, big), _p50(reads, key, small)
        if at_big is None or at_small is None:
            rows.append((f"overview API {label}", "no answer", _met(False)))
            continue
        what = f"overview API {label}"
        rows.append(_at_most(f"{what}: p50 ≤ {OVERVIEW_MS} ms at {n_big}", at_big, OVERVIEW_MS))
        rows.append(_growth_row(what, n_small, at_small, at_big, OVERVIEW_GROWTH, "ms"))
    for key, limit, name in (("drilldown", DRILL_MS, "drill-down"), ("weekly_csv", CSV_MS, "CSV")):
        value = _p50(reads, key, big)
        rows.append(_at_most(f"{name} p50 ≤ {limit:,} ms at {n_big}", value, limit))
    mem_small = common.median(reads["csv_memory"][small]["peak_mib"])
    mem_big = common.median(reads["csv_memory"][big]["peak_mib"])
    allowed = max(mem_small * (1 + MEMORY_SLACK[0]), mem_small + MEMORY_SLACK[1])
    rows.append(
        (
            f"weekly CSV peak memory the same at {n_small} and {n_big}",
            f"{mem_small:.1f} → {mem_big:.1f} MiB peak RSS (same: ≤ {allowed:.1f})",
            _met(mem_big <= allowed),
        )
    )
    return rows


SMALL_INGEST_RATIO = 0.1  # 10-event requests
CPU_US_PER_EVENT = 25  # worker CPU, 1,000-event gzip requests
CPU_MS_PER_SMALL = 0.5  # worker CPU, a 10-event request
EVAL_SECONDS = 2.0  # one evaluation minute of 100 rules at 10 M
EVAL_GROWTH = 1.3  # ... and at most this times its 1 M time
PREVIEW_SECONDS = 5.0  # the 14-day preview grouped by courier at 10 M
OPEN_INGEST_RATIO = 0.9  # "within 10 % of before"
OPEN_MS = 100  # the open-failure list and summary at 10 M
LATENCY_SERIES_MS = 50  # the 30-day hourly latency series by endpoint at 10 M
LATENCY_PAGE_RATIO = 1.2  # the overview with its latency chart against without


def _copy_ratios(what: str, ingest: dict, target: float) -> list[tuple]:
    """The app's events/s against COPY of the same rows: into `ingest_event` (the issue's
    baseline, the target's), and into a bare table without indexes (stricter, kept from the
    first rounds for comparison)."""
    app = ingest["app_events_per_s"]
    rows = []
    into_table = ingest.get("ratio_to_ingest_event_copy")
    if into_table is not None:
        gap = "" if into_table >= target else f" ({target / into_table:.1f}× short)"
        rows.append(
            (
                f"{what} ≥ {target} × COPY into ingest_event",
                f"{into_table:.3f} ({app:,.0f} vs "
                f"{ingest['copy_into_ingest_event_per_s']:,.0f} events/s){gap}",
                _met(into_table >= target),
            )
        )
    rows.append(
        (
            f"{what} against COPY into a bare table (no key, no index)",
            f"{ingest['ratio']:.3f} ({app:,.0f} vs "
            f"{max(ingest['copy_events_per_s'].values()):,.0f} events/s)",
            _met(None) if into_table is not None else _met(ingest["ratio"] >= target),
        )
    )
    return rows


def round_targets() -> list[tuple]:
    """The targets of the ingest, alerting and open-failure issues, from their steps' figures."""
    rows = []
    small = common.load("ingest_small")
    if small:
        rows += _copy_ratios("ingest of 10-event requests", small, SMALL_INGEST_RATIO)
    rows += _cpu_targets(common.load("ingest_server_cpu"))
    rows += _alert_targets(common.load("alerts_eval"))
    rows += _open_targets(common.load("open_failures"))
    rows += _latency_targets(
        [
            data
            for path in sorted(common.OUT.glob("latency_*.json"))
            if (data := common.load(path.stem))
        ]
    )
    return rows


def _latency_targets(sizes: list[dict]) -> list[tuple]:
    """The latency series and the overview's latency chart (bench.latency), smallest and largest."""
    if not sizes:
        return []
    small, big = _smallest_and_largest(sizes)
    label = count_label(big["events"])
    series = big["series_stats"]["p50_ms"]
    rows = [
        _at_most(
            f"latency series 30 d, hourly, by endpoint: p50 ≤ {LATENCY_SERIES_MS} ms at {label}",
            series,
            LATENCY_SERIES_MS,
        )
    ]
    if small is not big:
        before, smaller = small["series_stats"]["p50_ms"], count_label(small["events"])
        rows.append(_growth_row("latency series", smaller, before, series, OVERVIEW_GROWTH, "ms"))
    ratio = big["overview_ratio"]
    rows.append(
        (
            f"overview page with the latency chart ≤ {LATENCY_PAGE_RATIO}× without it, {label}",
            f"{ratio:.2f}× ({big['overview_with_chart']['p50_ms']:.1f} vs "
            f"{big['overview_without_chart']['p50_ms']:.1f} ms)",
            _met(ratio <= LATENCY_PAGE_RATIO),
        )
    )
    return rows


def _cpu_targets(figures: dict | None) -> list[tuple]:
    """Worker CPU through gunicorn (bench.ingest_server_cpu), this tree beside its base."""
    if not figures:
        return []
    rows = []
    wanted = (
        ("batch_1000", "cpu_us_per_event", CPU_US_PER_EVENT, "µs", "worker CPU per event"),
        (
            "batch_10",
            "cpu_ms_per_request",
            CPU_MS_PER_SMALL,
            "ms",
            "worker CPU per 10-event request",
        ),
    )
    for batch, key, limit, unit, title in wanted:
        if batch not in figures:
            continue
        new, base = figures[batch]["new"][key], figures[batch]["base"][key]
        rows.append(
            (
                f"{title} ≤ {limit:g} {unit}",
                f"{new:g} {unit} (base tree beside it: {base:g} {unit}){_over(new, limit)}",
                _met(new <= limit),
            )
        )
    return rows


def _alert_targets(figures: dict | None) -> list[tuple]:
    if not figures or not figures.get("sizes"):
        return []
    small, big = _smallest_and_largest(figures["sizes"])
    label = count_label(big["events"])
    minute = big["median_seconds"]
    rows = [
        _at_most(
            f"alert evaluation minute, 100 rules: ≤ {EVAL_SECONDS:g} s at {label}",
            minute,
            EVAL_SECONDS,
            unit="s",
            digits=3,
            over=False,
        )
    ]
    if small is not big:
        before, smaller = small["median_seconds"], count_label(small["events"])
        rows.append(
            _growth_row(
                "alert evaluation minute", smaller, before, minute, EVAL_GROWTH, "s", digits=3
            )
        )
    preview = big["preview"]["median_seconds"]
    rows.append(
        _at_most(
            f"14-day alert preview grouped by courier: ≤ {PREVIEW_SECONDS:g} s at {label}",
            preview,
            PREVIEW_SECONDS,
            unit="s",
            digits=2,
            over=False,
        )
    )
    return rows


def _open_targets(figures: dict | None) -> list[tuple]:
    if not figures:
        return []
    reads = figures["reads"]
    where = f"{count_label(reads['events'])} ({reads['open']:,} open)"
    names = {
        "list_first_page": "open failures, first page",
        "list_first_page_courier": "open failures, first page of one courier",
        "summary": "open failures summary",
    }
    rows = [
        _at_most(
            f"{title}: p50 ≤ {OPEN_MS} ms at {where}", reads[key]["p50_ms"], OPEN_MS, over=False
        )
        for key, title in names.items()
    ]
    plan = figures.get("recompute_plan")
    if plan:
        rows.append(
            (
                f"stale rows' rebuild at {count_label(reads['events'])}: raw partitions probed "
                "by index, none scanned",
                f"{plan['raw_partitions_probed_by_index']} probed, "
                f"{len(plan['raw_partitions_seq_scanned'])} scanned; "
                f"{plan['planning_ms']:.1f} + {plan['execution_ms']:.1f} ms for "
                f"{plan['refs']} references",
                _met(not plan["raw_partitions_seq_scanned"]),
            )
        )
    arms = {
        "open_failures_ingest_http": "end to end through gunicorn",
        "open_failures_ingest": "the write alone, in-process (no target: the state's share "
        "without validation and HTTP)",
    }
    streams = {
        "own": "each client sending shipments of its own",
        "dealt": "one stream dealt batch by batch, a failure and its retry often in two "
        "batches in flight at once (the worst case; no target)",
    }
    for name, how in arms.items():
        for stream, sent in streams.items():
            ingest = common.load(f"{name}_{stream}")
            if not ingest:
                continue
            ratio, per_s = ingest["ratio_with_to_without"], ingest["events_per_s"]
            target = name.endswith("http") and stream == "own"
            rows.append(
                (
                    f"ingest with the open-failure state ≥ {OPEN_INGEST_RATIO} × without, {how}"
                    f" ({ingest['clients']} clients, 1,000-event batches of shipments' lives, "
                    f"{sent})",
                    f"{ratio:.3f} ({per_s['with_state']:,} vs {per_s['without_state']:,} events/s)",
                    _met(ratio >= OPEN_INGEST_RATIO) if target else _met(None),
                )
            )
    return rows


def _over(value: float, limit: float) -> str:
    return "" if value <= limit else f" ({value / limit:.1f}× the target)"


def _at_most(
    target: str,
    value: float | None,
    limit: float,
    *,
    unit: str = "ms",
    digits: int = 1,
    over: bool = True,
) -> tuple:
    """A figure against its ceiling, with how far over it is (unless not `over`); "no answer"
    where none came."""
    if value is None:
        return (target, "no answer", _met(False))
    measured = f"{value:.{digits}f} {unit}" + (_over(value, limit) if over else "")
    return (target, measured, _met(value <= limit))


def _growth_row(
    what: str, smaller: str, before: float, after: float, limit: float, unit: str, digits: int = 1
) -> tuple:
    """`what`'s time at the largest size (`after`) at most `limit` times its time (`before`) at
    the smallest (`smaller`: that size's label)."""
    growth = after / before
    return (
        f"{what}: ≤ {limit}× its time at {smaller}",
        f"{growth:.2f}× ({before:.{digits}f} → {after:.{digits}f} {unit})",
        _met(growth <= limit),
    )


def _smallest_and_largest(sizes: list[dict]) -> tuple[dict, dict]:
    """The figures of the fewest and of the most events (the same where one size ran)."""
    ordered = sorted(sizes, key=lambda s: s["events"])
    return ordered[0], ordered[-1]


# ---------------------------------------------------------------- sections


def machine_section(machine: dict, scale: str) -> str:
    s = machine["postgresql_settings"]
    settings = ", ".join(f"{k}={v}" for k, v in s.items())
    return (
        f"Run: **{machine['date']}**, commit `{machine['commit']}`, scale **{scale}**"
        f" (`BENCH_SCALE={scale}`).\n\n"
        f"Machine: {machine['usable_cores']} of {machine['cores']} cores ({machine['cpu']}), "
        f"{machine['memory_gib']} GiB memory, load average at start "
        f"{' / '.join(map(str, machine['load_average']))} (shared machine: figures are noisy, "
        f"comparisons are ratios measured in the same run).\n\n"
        f"PostgreSQL: {machine['postgresql']} ({machine['server']}; {settings}). "
        f"Python {machine['python']}, Django {machine['django']}, gunicorn {machine['gunicorn']}, "
        f"psycopg {machine['psycopg']}.\n"
    )


def targets_section(rows: list[tuple], scale: str) -> str:
    lines = []
    if scale != "full":
        lines += [
            f"*A `{scale}` smoke run: the issue sets these targets at 1 M and 10 M events; here "
            "they are checked at the smaller sizes only to exercise the suite.*",
            "",
        ]
    lines += ["| target | measured | verdict |", "| --- | --- | --- |"]
    lines += [f"| {t} | {m} | {v} |" for t, m, v in rows]
    return "\n".join(lines) + "\n"


def ingest_section(ingest: dict | None, profile: dict | None) -> str:
    if not ingest:
        return "Not run in this run.\n"
    out = [
        f"{ingest['events']:,} events (DemoTraffic records, no `event_id`) over the last "
        f"{ingest['span_hours']:g} h, in {ingest['batches']:,} gzip NDJSON batches of "
        f"{ingest['batch']:,} ({ingest['ndjson_bytes'] / 2**20:,.0f} MiB of NDJSON, "
        f"{ingest['gzip_bytes'] / 2**20:,.1f} MiB gzipped); gunicorn with the deploy config, "
        f"WEB_CONCURRENCY={ingest['workers']} sync workers; {ingest['clients']} concurrent "
        "clients (one connection per request: sync workers). Baseline: psycopg 3 "
        f"`COPY ... FROM STDIN` (text) of the same rows "
        f"as the app stores them ({ingest['copy_bytes'] / 2**20:,.0f} MiB) into `bare_events` "
        f"(the columns of `ingest_event`; no partitions, key, index, dedupe or rollups), over 1 "
        f"and 2 connections; the ratio takes the faster. Medians of {ingest['runs']} rounds; each "
        f"round runs all of them one after the other on empty tables.\n",
        "| round | app events/s | app s | CPU s: workers / PostgreSQL | COPY ×1 /s | COPY ×2 /s "
        "| COPY into `ingest_event` /s | ratio | checks |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    if ingest.get("sweep"):
        tried = ", ".join(
            f"{r['workers']} workers × {r['clients']} clients {r['events_per_s']:,}/s"
            for r in ingest["sweep"]
        )
        out.insert(
            1,
            f"Deployment measured: the fastest of a first sweep on "
            f"{ingest['sweep'][0]['events']:,} events ({tried}).\n",
        )
    for n, r in enumerate(ingest["rounds"], start=1):
        cpu = r["cpu_seconds"]
        out.append(
            f"| {n} | {r['app_events_per_s']:,} | {r['app_seconds']} | "
            f"{cpu['app_workers']} / {cpu['postgresql']} | "
            f"{r['copy']['1']['events_per_s']:,} | {r['copy']['2']['events_per_s']:,} | "
            f"{r['copy_into_ingest_event']['events_per_s']:,} | {r['ratio']:.3f} | "
            f"{'ok' if r['checks_passed'] else 'FAILED'} |"
        )
    copy = ingest["copy_events_per_s"]
    out.append(
        f"| **median** | **{ingest['app_events_per_s']:,.0f}** | | | {copy['1']:,.0f} | "
        f"{copy['2']:,.0f} | {ingest['copy_into_ingest_event_per_s']:,.0f} | "
        f"**{ingest['ratio']:.3f}** | {'ok' if ingest['checks_passed'] else 'FAILED'} |"
    )
    out.append(_cpu_line(ingest))
    out.append(
        "Checks: every batch answered 200 with no duplicate and no rejection, and the stored "
        "rows and each rollup's event count equal the events posted (COPY: rows copied). "
        '"COPY into `ingest_event`" is a diagnosis, not the baseline: the same COPY into the '
        "app's own partitioned table with its key and indexes (no dedupe, no rollups).\n"
    )
    if profile:
        stages = ", ".join(f"{k} {v} µs" for k, v in profile["us_per_event"].items())
        out.append(
            f"Where one request's time goes (`bench.profile_ingest`: {profile['batches']} "
            f"batches through the stages in one process, median µs per event): {stages}; "
            f"total {profile['total_us_per_event']} µs per event. The validation "
            "(`pipeline.clean_items`) by function, own time (cProfile):\n"
        )
        out.append("```\n" + profile["clean_profile"] + "\n```\n")
    return "\n".join(out)


def _cpu_line(ingest: dict) -> str:
    """CPU per event in the median round, and the ceiling the workers' CPU sets."""
    middle = sorted(ingest["rounds"], key=lambda r: r["ratio"])[len(ingest["rounds"]) // 2]
    cpu, events = middle["cpu_seconds"], ingest["events"]
    cores = (common.load("machine") or {}).get("usable_cores", 2)
    workers_us = cpu["app_workers"] * 1e6 / events
    ceiling = cores * 1e6 / workers_us if workers_us else 0
    return (
        f"\nCPU per event (the median round): gunicorn workers {workers_us:.0f} µs, "
        f"PostgreSQL {cpu['postgresql'] * 1e6 / events:.0f} µs; the single-stream COPY took "
        f"{1e6 / middle['copy']['1']['events_per_s']:.1f} µs of wall time per event. On "
        f"{cores} cores the workers' CPU alone caps the app near {ceiling:,.0f} events/s.\n"
    )


def _sql_ms(explains: list[dict], db: str, key: str) -> str:
    """The EXPLAIN ANALYZE time of a path's product queries on `db`, for beside its p50."""
    for e in explains:
        if e["database"] == db and key in e["paths"]:
            queries = [q for q in e["paths"][key]["queries"] if q["product"]]
            ms = sum(q["execution_ms"] for q in queries)
            return f" (SQL {ms:.1f})" if ms >= 10 else f" (SQL {ms:.2f})"
    return ""


def reads_section(reads: dict | None, explains: list[dict]) -> str:
    if not reads:
        return "Not run in this run.\n"
    small, big = _scales(reads)
    dbs = [small, big] if small != big else [small]
    labels = {db: count_label(reads["databases"][db]["stored"]) for db in dbs}
    out = [_loads_table(reads, dbs, labels)]
    out.append(
        f"Timed over HTTP against gunicorn (WEB_CONCURRENCY={reads['workers']}), one client, "
        f"a `read` token (the page: a session), time to the last byte; "
        f"{reads['warmup']} warm-up requests, then {reads['runs']} rounds, each asking every "
        "path of every database in turn. Window: the loaded 30 days. (SQL n): the "
        "EXPLAIN ANALYZE time of the path's queries on the product tables (section 3); the "
        "rest of p50 is Python, rendering and HTTP.\n"
    )
    head = " | ".join(f"{labels[db]} p50 / p90 ms" for db in dbs)
    out.append(f"| path | {head} | growth | answer |")
    out.append("| --- | " + " | ".join("---" for _ in dbs) + " | --- | --- |")
    for key, spec in reads["paths"].items():
        cells = []
        for db in dbs:
            t = reads["timings_ms"][key][db]
            cells.append(
                f"{t['p50']} / {t['p90']}{_sql_ms(explains, db, key)}"
                if t.get("n")
                else "no answer"
            )
        p_small, p_big = _p50(reads, key, small), _p50(reads, key, big)
        growth = f"{p_big / p_small:.2f}×" if p_small and p_big and small != big else ""
        answer = "; ".join(f"{labels[db]}: {reads['checks'][key].get(db, '')}" for db in dbs)
        out.append(f"| {spec['label']} | {' | '.join(cells)} | {growth} | {answer} |")
    out.append("\nPaths (on the larger database):\n")
    out += [f"- {key}: `{path}`" for key, path in reads["example_paths"].items()]
    out.append(
        "\nWeekly CSV peak memory: peak RSS of `manage.py export_weekly_report --week W` (the "
        "same streaming code as the API) in a subprocess, from `wait4()`; a week without data "
        "beside it is the floor of a Django process.\n"
    )
    out.append("| database | peak RSS MiB (runs) | week without data MiB |")
    out.append("| --- | --- | --- |")
    for db in dbs:
        mem = reads["csv_memory"][db]
        out.append(
            f"| {labels[db]} | {', '.join(map(str, mem['peak_mib']))} | "
            f"{', '.join(map(str, mem['empty_week_peak_mib']))} |"
        )
    return "\n".join(out) + "\n"


_ROLLUP_TABLES = (
    "ingest_rollup_category",
    "ingest_rollup_code",
    "ingest_rollup_courier",
    "ingest_rollup_account",
    "ingest_rollup_code_daily",
    "ingest_rollup_courier_daily",
    "ingest_rollup_account_daily",
)


def _loads_table(reads: dict, dbs: list[str], labels: dict) -> str:
    out = [
        "Loaded by `bench.load` (see its docstring): 30 UTC days of demo-shaped traffic, "
        "each day by one `INSERT ... SELECT FROM generate_series` into a table then attached "
        "as the day's partition (every index built in bulk), each rollup by the aggregation "
        "`store.py` runs, then `VACUUM (ANALYZE)`; checked against `store.write_events` and "
        "`clean_event` on every run (`load_verify` below).\n",
        "| database | events | raw events: rows, MiB | rollup rows: 15-minute (category / code "
        "/ courier / account); daily (code / courier / account) | load s | of which |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for db in dbs:
        note = reads["databases"][db]
        t = note["tables"]
        rows = {name: f"{t[name]['rows']:,}" if name in t else "–" for name in _ROLLUP_TABLES}
        rollups = " / ".join(rows[name] for name in _ROLLUP_TABLES[:4]) + "; "
        rollups += " / ".join(rows[name] for name in _ROLLUP_TABLES[4:])
        out.append(
            f"| `{db}` | {labels[db]} | {t['ingest_event']['rows']:,}, "
            f"{t['ingest_event']['mib']:,} | {rollups} | {note['seconds']} | "
            + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in note["phases_seconds"].items())
            + " |"
        )
    return "\n".join(out) + "\n"


_LONG_ARRAY = re.compile(r"'\{[^{}']{300,}\}'")


def _short_sql(sql: str) -> str:
    """The SQL with long array literals (e.g. 720 bucket edges) elided."""
    return _LONG_ARRAY.sub(lambda m: f"'{{…{m.group(0).count(',') + 1} values…}}'", sql)


def explain_section(explains: list[dict]) -> str:
    if not explains:
        return "Not run in this run.\n"
    explains = sorted(explains, key=lambda e: e["events"])
    out = [
        "Every SELECT each path ran (captured by Django's CaptureQueriesContext, values "
        "included), explained twice with `EXPLAIN (ANALYZE, BUFFERS)`; the warm second plan is "
        "shown. Execution ms per path (product tables only; Django's session, user, token and "
        "cache queries are counted apart):\n",
        "| path | " + " | ".join(count_label(e["events"]) for e in explains) + " | seq scans |",
        "| --- | " + " | ".join("---" for _ in explains) + " | --- |",
    ]
    for key in explains[-1]["paths"]:
        cells, scans = [], set()
        for e in explains:
            p = e["paths"].get(key, {"queries": []})
            product = [q for q in p["queries"] if q["product"]]
            other = [q for q in p["queries"] if not q["product"]]
            cells.append(
                f"{sum(q['execution_ms'] for q in product):.1f} in {len(product)} "
                f"(+{sum(q['execution_ms'] for q in other):.1f} in {len(other)})"
            )
            scans |= {s for q in p["queries"] for s in q["seq_scans"]}
        flagged = ", ".join(
            f"**{s}**" if s.startswith("ingest_event") else s for s in sorted(_group(scans))
        )
        out.append(f"| {key} | {' | '.join(cells)} | {flagged or 'none'} |")
    largest = explains[-1]
    out.append(f"\n#### Plans at {count_label(largest['events'])} events\n")
    for key, p in largest["paths"].items():
        out.append(f"**{key}** — {p['label']} (HTTP {p['status']})\n")
        for q in p["queries"]:
            if not q["product"]:
                continue
            out.append("```sql\n" + _short_sql(q["sql"]).strip() + "\n```")
            out.append("```\n" + _short_sql(q["plan"]) + "\n```\n")
    return "\n".join(out) + "\n"


def _group(scans: set[str]) -> set[str]:
    """ingest_event_p20261101 ... -> ingest_event partitions (one name for all days)."""
    return {
        "ingest_event partitions" if re.fullmatch(r"ingest_event_p\d{8}", s) else s for s in scans
    }


def verify_section(verify: dict | None) -> str:
    if not verify:
        return "Loader verification: not run.\n"
    verdict = "ok" if verify["ok"] else "FAILED: " + "; ".join(verify["problems"])
    return (
        f"Loader verification (`bench.load --verify`): {verify['events']:,} events loaded the "
        f"fast way and written again through `store.write_events`; tables compared row for "
        f"row: {', '.join(verify['tables_compared'])}; {verify['clean_event_sample']} rows "
        f"rebuilt as shipped records and passed through `clean_event`: **{verdict}**.\n"
    )


def render(scale: str) -> str:
    machine = common.load("machine")
    ingest, reads = common.load("ingest"), common.load("reads")
    explains = [
        data
        for path in sorted(common.OUT.glob("explain_*.json"))
        if (data := common.load(path.stem))
        and (not reads or data["database"] in reads["databases"])
    ]
    parts = [
        "## Benchmarks (`make bench`)\n",
        machine_section(machine, scale) if machine else "",
        "### Targets\n",
        targets_section(targets(ingest, reads, explains) + round_targets(), scale),
        "### 1. Ingest, end to end\n",
        ingest_section(ingest, common.load("profile_ingest")),
        "### 2. Reads at scale\n",
        verify_section(common.load("load_verify")),
        reads_section(reads, explains),
        "### 3. Query plans\n",
        explain_section(explains),
        "Raw figures: `bench/out/*.json` (git-ignored). Rerun: `make bench` "
        "(`BENCH_SCALE=small` for a quick smoke run).\n",
    ]
    return "\n".join(p for p in parts if p)


def write(text: str, doc: Path = DOC) -> None:
    """Replace the generated block of `doc`, keeping everything around it."""
    block = f"{BEGIN}\n{text.rstrip()}\n{END}"
    current = doc.read_text() if doc.exists() else TITLE
    if BEGIN in current and END in current:
        before, rest = current.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        doc.write_text(before + block + after)
    else:
        doc.write_text(current.rstrip() + "\n\n" + block + "\n")


def main() -> None:
    machine = common.load("machine") or {}
    write(render(machine.get("scale", "unknown")))
    common.log(f"wrote {DOC.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
