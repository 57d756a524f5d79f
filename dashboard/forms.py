"""The filter bar: which inputs to draw and what each currently holds.

Plain descriptors rendered by templates/pages/_filters.html; the values are read back by
params.read_page_params (through stats.querystring), so the bar and the API agree on meaning.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from django.conf import settings

from dashboard.params import CUSTOM, GROUPS, RANGE_LABELS, PageParams, local_input
from ingest.catalog import CATEGORIES
from ingest.events import ENDPOINT_NAMES
from ingest.models import Courier
from stats.links import zone_name

ZONES = ("UTC", "Asia/Kolkata", "Asia/Dubai", "Asia/Singapore", "Europe/London")


def zone_choices(current: Any) -> list[str]:
    """Zones offered in the pickers: a few common ones, the default and the current one."""
    return list(dict.fromkeys([*ZONES, settings.TIME_ZONE, zone_name(current)]))


def courier_choices() -> list[tuple[int, str]]:
    """(cp_id, "name (cp_id)") for every courier seen so far; the table holds one row each."""
    return [(cp_id, f"{name} ({cp_id})") for cp_id, name in Courier.objects.values_list()]


def _select(name: str, label: str, choices: Iterable[tuple[Any, str]], chosen: Sequence) -> dict:
    chosen_text = [str(value) for value in chosen]
    options: list[dict[str, str | bool]] = [{"value": str(v), "label": text} for v, text in choices]
    known = {o["value"] for o in options}
    options += [{"value": v, "label": v} for v in chosen_text if v not in known]
    for option in options:
        option["selected"] = option["value"] in chosen_text
    return {
        "kind": "select",
        "name": name,
        "label": label,
        "options": options,
        "multiple": len(chosen_text) > 1,
    }


def _text(name: str, label: str, chosen: Sequence, placeholder: str) -> dict:
    return {
        "kind": "text",
        "name": name,
        "label": label,
        "value": ",".join(str(v) for v in chosen),
        "placeholder": placeholder,
    }


def filter_fields(*, state: PageParams) -> dict:
    """The range, zone and filter inputs of the filter bar, filled in from `state`."""
    window, chosen = state.window, state.filters
    zone = zone_name(window.tz)
    return {
        "range": {
            "options": [*RANGE_LABELS.items(), (CUSTOM, "Custom…")],
            "value": state.range,
            "start": local_input(window.start, window.tz),
            "end": local_input(window.end, window.tz),
            "custom": state.range == CUSTOM,
        },
        "tz": {"options": zone_choices(window.tz), "value": zone},
        "filters": [
            _select("endpoint", "Endpoint", [(e, e) for e in ENDPOINT_NAMES], chosen.endpoint),
            _select("cp_id", "Courier", courier_choices(), chosen.cp_id),
            _select(
                "category",
                "Category",
                [(c, c.replace("_", " ")) for c in CATEGORIES],
                chosen.category,
            ),
            _text("account_code", "Account", chosen.account_code, "any account"),
            _text("code", "Code", chosen.code, "e.g. 324,503"),
        ],
    }


def group_links(*, state: PageParams, group: str, benign: str) -> list[dict]:
    """The overview chart's group-by switch: one link per grouping, the same view otherwise,
    so the choice lives in the address like every other."""
    kept = [("benign", benign)] if benign else []
    return [
        {
            "label": label,
            "url": "?" + urlencode([*state.pairs(), *kept, ("group", name)]),
            "current": name == group,
        }
        for name, label in GROUPS.items()
    ]
