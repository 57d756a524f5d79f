"""An alert's labels in words, for every message, page and history row: a group is
{"cp_id": 4, "courier": "Delhivery"} and reads "Delhivery", never "cp_id 4"."""

from __future__ import annotations

from typing import Any

FILTER_FIELDS = ("endpoint", "category", "code", "cp_id", "account_code")


def identity(labels: dict[str, Any]) -> dict[str, Any]:
    """The labels that make a group (names are for people, not for keys)."""
    return {name: value for name, value in labels.items() if name in FILTER_FIELDS}


def where_text(labels: dict[str, Any]) -> str:
    """The group in words: 'Delhivery', 'account acme', or 'all calls' without a group."""
    if not labels:
        return "all calls"
    if "courier" in labels:
        return str(labels["courier"])
    ident = identity(labels)
    if not ident:
        return "all calls"
    dim, key = next(iter(ident.items()))
    if dim == "account_code":
        return f"account {key}" if key else "no account"
    return f"{dim.replace('_', ' ')} {key}"
