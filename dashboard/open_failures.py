"""The page /open/: what to do first (by the catalog's action and code), then the list of open
failures with its filters in the address; staff select rows and dismiss them (static JS posts
to the API's dismiss endpoint with the CSRF token)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from dashboard.views import page
from stats import open_failures, params

PER_PAGE = 100
# The filters kept in the address, in the order the form shows them.
FILTERS = ("endpoint", "action", "code", "cp_id", "account_code", "retryable", "older_than_minutes")


@page
def open_failures_page(request: HttpRequest) -> HttpResponse:
    where = params.open_filters(request.GET)
    cursor = request.GET.get("cursor") or None
    if cursor:
        open_failures.decode_cursor(cursor)
    now = timezone.now()
    tz = params.zone_query(request.GET)
    rows, next_cursor = open_failures.open_page(
        where=where, now=now, cursor=cursor, limit=PER_PAGE, tz=tz
    )
    kept = [(name, value) for name in FILTERS for value in request.GET.getlist(name) if value]
    query = urlencode(kept)
    context = {
        "nav": "open",
        "summary": open_failures.summary(where=where, now=now),
        "rows": [{**row, "timeline_url": _timeline_url(row)} for row in rows],
        "kept": dict(kept),
        "query": query,
        "next_url": f"?{urlencode([*kept, ('cursor', next_cursor)])}" if next_cursor else None,
        "csv_url": f"{reverse('api-open-failures')}?{urlencode([*kept, ('format', 'csv')])}",
        "can_dismiss": request.user.is_staff,
        "dismiss_url": reverse("api-open-failures-dismiss"),
    }
    return render(request, "pages/open_failures.html", context)


def _timeline_url(row: open_failures.OpenFailureRow) -> str:
    if row["order_id"]:
        return reverse("order", args=[row["order_id"]])
    return reverse("waybill", args=[row["waybill"]])
