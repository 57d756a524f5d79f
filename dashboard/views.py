"""Thin page views: read the address (params.py), ask stats/selectors/reports, build figures
(charts.py), render. A bad parameter is a 400 page naming it, never a 500."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from alerts.selectors import firing_now, firings_between
from dashboard import charts, params
from dashboard.forms import filter_fields, group_links, zone_choices
from stats import open_failures, questions, reports, selectors
from stats.benign import benign_codes, benign_filters, benign_totals
from stats.codes import with_shares
from stats.couriers import MIN_CALLS, courier_health, courier_matrix
from stats.elapsed import totals_until
from stats.errors import ReadError
from stats.links import Drill, zone_name
from stats.results import BreakdownRow, CodeRow, EventCount, EventRow, Totals
from stats.shipments import shipment_matches
from stats.weekly_summary import (
    Coverage,
    coverage,
    previous_week,
    summary_csv_lines,
    summary_filename,
    weekly_summary,
)
from stats.window import Filters, Window
from tokens.health import token_health

LATEST_FAILURES = 10
TOP_CODES = 10
HEALTH_ROWS = 10  # couriers in the overview's health table until "show all" is asked for
EVENTS_PER_PAGE = 50
MAX_SEARCH = 100
REPORT_PREVIEW_ROWS = 50
SEARCH_FIELDS = ("q", "waybill", "order_id")
MAX_ID = 2**63 - 1  # event ids are bigint; a longer number in the address is simply not found
MAX_MATCHES = 20
SEARCH_SPAN = timedelta(days=30)  # prefix search looks at the last 30 days of calls


def page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login required; a ReadError (a parameter at fault) becomes the 400 page."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except ReadError as error:
            return bad_request(request, problems=[(error.field, [error.reason])])

    return wrapper


def bad_request(request: HttpRequest, *, problems: list[tuple[str, list[str]]]) -> HttpResponse:
    return render(request, "pages/bad_request.html", {"problems": problems}, status=400)


def drill_for(window: Window, filters: Filters) -> Drill:
    return Drill(filters=filters, tz=window.tz, start=window.start, end=window.end)


def _filtered(state: params.PageParams, *, nav: str, extra: Sequence = ()) -> dict:
    """Context every filtered page shares: its state, the filter bar and the common links.
    `extra` holds the page's own (name, value) pairs kept by the filter bar (group, benign)."""
    shown = state.shown
    return {
        "nav": nav,
        "state": state,
        "fields": filter_fields(state=state),
        "kept": [(name, value) for name, value in extra if value],
        "tz_name": zone_name(shown.tz),
        "window_text": params.window_text(shown),
        "state_query": urlencode(state.pairs()),
        "all_failures_url": drill_for(shown, state.filters).url(),
    }


@page
def overview(request: HttpRequest) -> HttpResponse:
    state = params.read_page_params(request.GET, now=timezone.now())
    group, benign = params.read_group(request.GET), params.read_benign(request.GET)
    all_couriers = params.flag(request.GET, "all_couriers")
    kept = [("group", group), ("benign", benign), ("all_couriers", "true" if all_couriers else "")]
    shown = _overview(state, group=group, benign=benign)
    health = shown.pop("health")
    context = {
        **_filtered(state, nav="overview", extra=kept),
        **shown,
        "health": health if all_couriers else health[:HEALTH_ROWS],
        "health_total": len(health),
        "all_couriers": all_couriers,
        "group": group,
        "group_links": group_links(state=state, group=group, benign=benign),
        "benign": benign,
        "benign_links": params.BENIGN_LABELS,
        "open_failures": open_failures.headline(now=timezone.now()),
        # Drawn after the page loads, from the same address (`overview_latency`).
        "latency_url": reverse("overview-latency") + "?" + request.GET.urlencode(),
    }
    return render(request, "pages/overview.html", context)


def _alert_marks(window: Window) -> list[charts.AlertMark]:
    """The alerts that fired inside the window, as marks on the error-rate chart."""
    return [
        charts.AlertMark(
            at=firing.at.astimezone(window.tz),
            text=f"{firing.rule_name} fired: {firing.where}",
        )
        for firing in firings_between(window.start, window.end)
    ]


def _totals(state: params.PageParams, filters: Filters) -> Totals:
    """A preset range compares the elapsed time with as long before it; custom: questions'."""
    if state.range in params.RANGES:
        return totals_until(
            start=state.window.start, now=state.until, tz=state.window.tz, filters=filters
        )
    return questions.totals(window=state.window, filters=filters)


def _overview(state: params.PageParams, *, group: str, benign: str) -> dict:
    """The overview's tiles, figures and tables: one stats or selectors question each."""
    window = state.window
    filters = benign_filters(filters=state.filters, window=window, mode=benign)
    drill = drill_for(state.shown, filters)
    series = questions.timeseries(
        window=window,
        interval=params.interval_for(window),
        group_by=group,
        filters=filters,
        limit=charts.MAX_SERIES,  # the rest summed by the read room, drawn as one grey series
    )
    top = questions.breakdown(window=window, by="code", limit=TOP_CODES, filters=filters)
    codes = questions.code_counts(window=window, filters=filters)
    unknown = [row for row in codes if not row["in_catalog"] and row["events"]]
    return {
        "totals": _totals(state, filters),
        "benign_totals": benign_totals(window=window, filters=state.filters),
        "min_calls": MIN_CALLS,
        "alerts": firing_now(),
        "rate_figure": charts.mark_alerts(
            charts.error_rate_figure(
                series,
                drill=drill,
                until=state.until,
                window_start=window.start,
                min_calls=MIN_CALLS,
            ),
            _alert_marks(window),
        ),
        "codes_figure": charts.top_codes_figure(top, drill=drill),
        "heatmap_figure": charts.heatmap_figure(
            courier_matrix(window=window, filters=filters), drill=drill
        ),
        "health": _health_rows(window, filters, drill),
        "top_codes": code_rows(with_catalog(top, codes), drill=drill, key="key"),
        "unknown_codes": code_rows(unknown, drill=drill, key="code"),
        "failures": _events(window, filters, errors_only=True, limit=LATEST_FAILURES)[0],
    }


@page
def overview_latency(request: HttpRequest) -> JsonResponse:
    """The overview's latency figure ({"figure": null} when no call carries a latency), for
    the page to draw after it loads: the page's own answer does not wait for this question."""
    state = params.read_page_params(request.GET, now=timezone.now())
    group, benign = params.read_group(request.GET), params.read_benign(request.GET)
    return JsonResponse({"figure": _latency_figure(state, group=group, benign=benign)})


def _latency_figure(state: params.PageParams, *, group: str, benign: str) -> charts.Figure | None:
    """p50 and p95 over the overview's window and filters, by its group when it is one the
    latency chart draws (endpoint, courier)."""
    window = state.window
    filters = benign_filters(filters=state.filters, window=window, mode=benign)
    return charts.latency_figure(
        questions.latency_timeseries(
            window=window,
            interval=params.interval_for(window),
            group_by=group if group in charts.LATENCY_GROUPS else "none",
            filters=filters,
            percentiles=(50, 95),
            limit=charts.LATENCY_SERIES,
        ),
        drill=drill_for(state.shown, filters),
        until=state.until,
        window_start=window.start,
    )


def _health_rows(window: Window, filters: Filters, drill: Drill) -> list[dict]:
    """The courier ranking (every courier with calls), each row with the link to that
    courier's failures; the page shows the first HEALTH_ROWS unless asked for all."""
    return [
        {**row, "events_url": drill.url(cp_id=row["cp_id"])}
        for row in courier_health(window=window, filters=filters, limit=None)
    ]


def with_catalog(top: Sequence[BreakdownRow], codes: Sequence[CodeRow]) -> list[dict[str, Any]]:
    """Breakdown rows by code, each with its catalog row (category, meaning, action)."""
    by_code: dict[object, CodeRow] = {row["code"]: row for row in codes}
    return [{**by_code.get(row["key"], {}), **row} for row in top]


def code_rows(rows: Sequence[Mapping[str, Any]], *, drill: Drill, key: str) -> list[dict[str, Any]]:
    """Rows of codes, each with the link to its events (`events_url`): the failing ones, or
    every call when the code had no failures (a success code)."""
    return [
        {**row, "events_url": drill.url(code=row[key], errors_only=bool(row["errors"]))}
        for row in rows
    ]


def _events(
    window: Window,
    filters: Filters,
    *,
    errors_only: bool,
    limit: int,
    search: dict[str, str] | None = None,
    cursor: str | None = None,
    order: params.EventOrder | None = None,
) -> tuple[list[EventRow], str | None]:
    """A page of events; `search` may hold q, waybill and order_id."""
    search = search or {}
    order = order or params.EventOrder(min_latency_ms=None, by_latency=False)
    return selectors.event_page(
        window=window,
        filters=filters,
        errors_only=errors_only,
        waybill=search.get("waybill"),
        order_id=search.get("order_id"),
        q=search.get("q"),
        cursor=cursor,
        limit=limit,
        min_latency_ms=order.min_latency_ms,
        by_latency=order.by_latency,
    )


def _count(
    state: params.PageParams,
    search: dict[str, str],
    *,
    errors_only: bool,
    order: params.EventOrder,
) -> EventCount:
    """How many events the page lists (exact up to 10,000); `q` reads as the event list reads
    it: a stored waybill or order id exactly, else a substring of the message."""
    return selectors.count_events(
        window=state.window,
        filters=state.filters,
        errors_only=errors_only,
        waybill=search.get("waybill"),
        order_id=search.get("order_id"),
        q=search.get("q"),
        min_latency_ms=order.min_latency_ms,
        by_latency=order.by_latency,
    )


def _search_terms(query: QueryDict) -> dict[str, str]:
    """The events page's text fields that are set: q, waybill, order_id (100 characters)."""
    terms = {name: (query.get(name) or "").strip()[:MAX_SEARCH] for name in SEARCH_FIELDS}
    return {name: value for name, value in terms.items() if value}


@page
def events(request: HttpRequest) -> HttpResponse:
    state = params.read_page_params(request.GET, now=timezone.now())
    errors_only = params.flag(request.GET, "errors_only")
    search = _search_terms(request.GET)
    order = params.read_event_order(request.GET)
    cursor = request.GET.get("cursor") or None
    rows, next_cursor = _events(
        state.window,
        state.filters,
        errors_only=errors_only,
        limit=EVENTS_PER_PAGE,
        search=search,
        cursor=cursor,
        order=order,
    )
    pinned = [*state.pairs(pinned=True), *search.items()]
    pinned += [("errors_only", "true")] if errors_only else []
    context = {
        **_filtered(state, nav="events", extra=order.pairs()),
        "rows": rows,
        "order": order,
        "sort_links": _sort_links(pinned, order),
        "matches": _count(state, search, errors_only=errors_only, order=order),
        "errors_only": errors_only,
        "q": search.get("q", ""),
        "next_url": next_cursor
        and "?" + urlencode([*pinned, *order.pairs(), ("cursor", next_cursor)]),
        "first_url": "?" + urlencode([*pinned, *order.pairs()]) if cursor else None,
    }
    return render(request, "pages/events.html", context)


def _sort_links(pinned: list[tuple[str, str]], order: params.EventOrder) -> list[dict]:
    """The events page's order switch: newest first, or slowest first (keeping the floor)."""
    floor = [] if order.min_latency_ms is None else [("min_latency_ms", str(order.min_latency_ms))]
    return [
        {
            "label": "newest first",
            "url": "?" + urlencode([*pinned, *floor]),
            "current": not order.by_latency,
        },
        {
            "label": "slowest first",
            "url": "?" + urlencode([*pinned, *floor, ("sort", "-latency")]),
            "current": order.by_latency,
        },
    ]


@page
def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    tz = params.read_zone(request.GET)
    event = selectors.event_detail(event_id=event_id, tz=tz) if event_id <= MAX_ID else None
    if event is None:
        return render(request, "pages/not_found.html", {"what": f"event {event_id}"}, status=404)
    return render(request, "pages/event_detail.html", {"nav": "events", "event": event})


def _timeline(request: HttpRequest, *, kind: str, value: str) -> HttpResponse:
    tz = params.read_zone(request.GET)
    found = selectors.shipment_timeline(**{kind: value}, tz=tz)
    what = f"{'waybill' if kind == 'waybill' else 'order'} {value}"
    if found is None:
        return render(request, "pages/not_found.html", {"what": what}, status=404)
    context = {
        "nav": "",
        "what": what,
        "summary": found["summary"],
        "rows": found["events"],
        "figure": charts.timeline_figure(found["events"]),
        "tz": zone_name(tz),
        "dismissals": found.get("dismissals", []),
    }
    return render(request, "pages/timeline.html", context)


@page
def waybill(request: HttpRequest, waybill: str) -> HttpResponse:
    return _timeline(request, kind="waybill", value=waybill)


@page
def order(request: HttpRequest, order_id: str) -> HttpResponse:
    return _timeline(request, kind="order_id", value=order_id)


@page
def search(request: HttpRequest) -> HttpResponse:
    """A waybill's timeline if it has events, else the order's, else the waybills and order
    ids of the last 30 days that start with what was typed."""
    q = (request.GET.get("q") or "").strip()[:MAX_SEARCH]
    if q and selectors.shipment_timeline(waybill=q):
        return redirect(reverse("waybill", args=[q]))
    if q and selectors.shipment_timeline(order_id=q):
        return redirect(reverse("order", args=[q]))
    now, tz = timezone.now(), params.read_zone(request.GET)
    recent = Window(start=now - SEARCH_SPAN, end=now, tz=tz)
    matches = shipment_matches(prefix=q, window=recent, limit=MAX_MATCHES) if q else []
    context = {"search_q": q, "matches": matches, "limit": MAX_MATCHES, "tz_name": zone_name(tz)}
    return render(request, "pages/search.html", context)


@page
def codes(request: HttpRequest) -> HttpResponse:
    state = params.read_page_params(request.GET, now=timezone.now())
    rows = with_shares(
        questions.code_counts(window=state.window, filters=state.filters), benign=benign_codes()
    )
    drill = drill_for(state.shown, state.filters)
    context = {**_filtered(state, nav="codes"), "rows": code_rows(rows, drill=drill, key="code")}
    return render(request, "pages/codes.html", context)


@page
def weekly_report(request: HttpRequest) -> HttpResponse:
    week, window = params.read_week(request.GET, now=timezone.now())
    rows = list(reports.weekly_rows(week=week, tz=window.tz))
    this_week = coverage(window=window, now=timezone.now())
    week_before = coverage(window=previous_week(window), now=timezone.now())
    query = urlencode({"week": week, "tz": zone_name(window.tz)})
    context = {
        "nav": "reports",
        "week": week,
        "tz": zone_name(window.tz),
        "window_text": params.window_text(window),
        "zones": zone_choices(window.tz),
        "rows": rows,
        "shown": rows[:REPORT_PREVIEW_ROWS],
        "figure": charts.weekly_figure(rows, drill=drill_for(window, Filters())),
        "csv_url": f"{reverse('api-weekly-report')}?{query}",
        "summary_url": f"{reverse('reports-summary')}?{query}",
        "summary": _summary_sections(week, window),
        "coverage": this_week,
        "coverage_notes": coverage_notes(this_week),
        "previous_coverage": week_before,
        "previous_coverage_notes": coverage_notes(week_before),
    }
    return render(request, "pages/reports.html", context)


def coverage_notes(week: Coverage) -> list[str]:
    """Why a week's data is incomplete, in words: when its data starts (or stops), days without
    calls, or that the week is not over yet."""
    when = "%Y-%m-%d %H:%M"
    if week["first"] is None or week["last"] is None:
        return ["no calls are stored for it" if week["over"] else "no calls yet"]
    notes = []
    if week["starts_late"]:
        notes.append(
            f"the data starts {week['first']:{when}}, after the week began ({week['start']:{when}})"
        )
    if week["ends_early"]:
        notes.append(
            f"its calls stop at {week['last']:{when}}, before the week ended ({week['end']:{when}})"
        )
    if not week["over"]:
        notes.append(f"the week is not over (calls up to {week['last']:{when}})")
    if week["days_with_data"] < week["days"]:
        notes.append(f"calls on {week['days_with_data']} of {week['days']} days")
    return notes


def _summary_sections(week: str, window: Window) -> dict[str, list]:
    """The summary's rows by section (total, courier, account, mover), for the page."""
    sections: dict[str, list] = {"total": [], "courier": [], "account": [], "mover": []}
    for row in weekly_summary(week=week, tz=window.tz):
        sections[row["section"]].append(row)
    return sections


@page
def weekly_summary_csv(request: HttpRequest) -> HttpResponse:
    """The weekly report's companion CSV: totals, couriers, accounts and the top movers (a few
    hundred rows at most, so one response, not a stream)."""
    week, window = params.read_week(request.GET, now=timezone.now())
    lines = "".join(summary_csv_lines(week=week, tz=window.tz))
    response = HttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{summary_filename(week)}"'
    return response


@page
def shippers(request: HttpRequest) -> HttpResponse:
    """Ingest health per token: counts, last use, last error ("is my shipper working?")."""
    context = {"nav": "shippers", "tokens": token_health()}
    return render(request, "pages/shippers.html", context)
