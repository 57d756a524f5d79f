"""Couriers at a glance: error rate per courier x error category (the heatmap) and the
courier health ranking ("which courier is failing right now, against its own usual?").

Both read `stats.questions.counts` (the one SQL builder, narrowest rollup first). A courier's
error rate is its errors over all of its calls, so a small courier in an outage stands out
beside the busiest one. Rates below `MIN_CALLS` calls are not coloured or ranked as rates:
three failures of four calls is noise, not an incident.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import TypedDict

from stats.latency import histograms_by, percentile
from stats.questions import DEFAULT_HEATMAP_COURIERS, ERROR_CATEGORIES, counts, labeler
from stats.rates import fraction, rate
from stats.results import OTHER
from stats.window import Filters, Window

MIN_CALLS = 20  # the volume floor below which a rate is shown as counts only
USUAL_SPAN = timedelta(days=7)  # "usual" = the 7 days before the window


class CourierKey(TypedDict):
    key: int | str  # a cp_id, or OTHER for the row summing the couriers beyond the bound
    label: str
    events: int
    errors: int


class CourierMatrix(TypedDict):
    """`errors[i][j]`: courier i's errors of category j; `events` of each courier are ALL of
    its calls (the denominator of every cell's rate)."""

    couriers: list[CourierKey]
    categories: list[str]
    errors: list[list[int]]
    min_calls: int


class CourierHealth(TypedDict):
    cp_id: int
    label: str
    events: int
    errors: int
    error_rate: float
    usual_events: int
    usual_errors: int
    usual_rate: float | None
    excess_errors: float
    top_code: int | None
    top_code_errors: int
    top_code_meaning: str
    enough_calls: bool
    p95_ms: float | None  # of its calls with a latency in the window; None without any


def courier_matrix(
    *, window: Window, filters: Filters, limit: int = DEFAULT_HEATMAP_COURIERS
) -> CourierMatrix:
    """Errors per courier x error category and each courier's calls, couriers ordered by
    error rate (those with at least MIN_CALLS calls first), then errors: the first `limit`,
    then (when there are more) one row keyed `other` summing the rest, so that the matrix
    never grows with the number of couriers."""
    rows = counts(window=window.snapped(), filters=filters, group=["cp_id", "category"])
    column = {category: j for j, category in enumerate(ERROR_CATEGORIES)}
    cells: dict[int | str, list[int]] = defaultdict(lambda: [0] * len(column))
    calls: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for cp_id, category, events, errors in rows:
        calls[cp_id][0] += events
        calls[cp_id][1] += errors
        if category in column:
            cells[cp_id][column[category]] += errors
    order = sorted(
        calls,
        key=lambda cp: (
            calls[cp][0] < MIN_CALLS,
            -rate(calls[cp][1], calls[cp][0]),
            -calls[cp][1],
            cp,
        ),
    )
    shown, rest = order[:limit], order[limit:]
    label = labeler("cp_id", shown)
    couriers: list[CourierKey] = [
        {"key": cp, "label": label(cp), "events": calls[cp][0], "errors": calls[cp][1]}
        for cp in shown
    ]
    keys: list[int | str] = list(shown)
    if rest:
        cells[OTHER] = [sum(column) for column in zip(*(cells[cp] for cp in rest), strict=True)]
        couriers.append(
            {
                "key": OTHER,
                "label": f"{len(rest):,} other couriers",
                "events": sum(calls[cp][0] for cp in rest),
                "errors": sum(calls[cp][1] for cp in rest),
            }
        )
        keys.append(OTHER)
    return {
        "couriers": couriers,
        "categories": list(ERROR_CATEGORIES),
        "errors": [cells[cp] for cp in keys],
        "min_calls": MIN_CALLS,
    }


def courier_health(
    *, window: Window, filters: Filters, limit: int | None = 10
) -> list[CourierHealth]:
    """The couriers most above their usual error rate in the window, worst first (the first
    `limit`, or every courier with calls in the window when `limit` is None).

    `usual_rate` is the courier's error rate in the 7 days before the window (None without
    calls then); `excess_errors` = errors - usual_rate x calls, the failures beyond normal, so
    ranking weighs both the jump and the volume. `top_code` is its most frequent error code in
    the window. Couriers under MIN_CALLS calls in the window rank last (`enough_calls` false).
    `p95_ms` is the 95th percentile of its calls' latency in the window (stats.latency).
    """
    window = window.snapped()
    now = _by_courier(counts(window=window, filters=filters, group=["cp_id"]))
    usual_window = Window(start=window.start - USUAL_SPAN, end=window.start, tz=window.tz)
    usual = _by_courier(counts(window=usual_window, filters=filters, group=["cp_id"]))
    top = _top_codes(counts(window=window, filters=filters, group=["cp_id", "code"]))
    meanings = labeler("code", [code for code, _ in top.values()])
    label = labeler("cp_id", now)
    rows = [
        _health(cp, now[cp], usual.get(cp, (0, 0)), top.get(cp), label(cp), meanings) for cp in now
    ]
    rows.sort(key=lambda r: (not r["enough_calls"], -r["excess_errors"], -r["errors"], r["cp_id"]))
    rows = rows[:limit]
    shown = filters.narrowed(cp_id=tuple(row["cp_id"] for row in rows))
    latencies = histograms_by(window=window, filters=shown, by=["cp_id"]) if rows else {}
    for row in rows:
        row["p95_ms"] = percentile(latencies.get((row["cp_id"],), {}), 95)
    return rows


def _by_courier(rows: list[tuple]) -> dict[int, tuple[int, int]]:
    return {cp_id: (events, errors) for cp_id, events, errors in rows}


def _top_codes(rows: list[tuple]) -> dict[int, tuple[int, int]]:
    """cp_id -> (code, errors) of its most frequent error code (lowest code on a tie)."""
    best: dict[int, tuple[int, int]] = {}
    for cp_id, code, _events, errors in rows:
        if errors and (cp_id not in best or (errors, -code) > (best[cp_id][1], -best[cp_id][0])):
            best[cp_id] = (code, errors)
    return best


def _health(
    cp_id: int,
    now: tuple[int, int],
    usual: tuple[int, int],
    top: tuple[int, int] | None,
    label: str,
    meanings,
) -> CourierHealth:
    events, errors = now
    usual_events, usual_errors = usual
    usual_rate = fraction(usual_errors, usual_events) if usual_events else None
    expected = (usual_rate or 0.0) * events
    return {
        "cp_id": cp_id,
        "label": label,
        "events": events,
        "errors": errors,
        "error_rate": rate(errors, events),
        "usual_events": usual_events,
        "usual_errors": usual_errors,
        "usual_rate": usual_rate,
        "excess_errors": round(errors - expected, 1),
        "top_code": top[0] if top else None,
        "top_code_errors": top[1] if top else 0,
        "top_code_meaning": meanings(top[0]) if top else "",
        "enough_calls": events >= MIN_CALLS,
        "p95_ms": None,
    }
