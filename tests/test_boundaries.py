"""The rooms' one rule that import-linter cannot see: nothing but `ingest/store.py` writes
events or rollups (docs/ARCHITECTURE.md). import-linter (pyproject `[tool.importlinter]`, run
by `make lint`) guards the import graph; this guards the SQL and the ORM calls."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOMS = ("clickpost_monitor", "ingest", "stats", "tokens", "dashboard", "demo", "alerts")
THE_WRITER = REPO / "ingest" / "store.py"
# Schema changes and the one-off backfill of a new rollup are the migrations' job.
EXEMPT_DIRS = ("migrations",)

EVENT_TABLES = r"ingest_(?:event|rollup_\w+)\b"
WRITES = [
    re.compile(
        rf"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+{EVENT_TABLES}", re.I
    ),
    re.compile(rf"\bCOPY\s+{EVENT_TABLES}", re.I),
    re.compile(r"[\"']TRUNCATE\b", re.I),  # a TRUNCATE whose table names are joined in
    re.compile(
        r"\b(?:Event|Rollup\w*)\.objects\.(?:create|bulk_create|update|get_or_create|update_or_create)\b"
    ),
    re.compile(r"\b(?:Event|Rollup\w*)\.objects\.[\w().,=\s]*\.(?:update|delete)\("),
]


def source_files() -> list[Path]:
    files = []
    for room in ROOMS:
        for path in (REPO / room).rglob("*.py"):
            if not any(part in EXEMPT_DIRS for part in path.relative_to(REPO).parts):
                files.append(path)
    return files


def writes_in(text: str) -> list[str]:
    return [match.group(0) for pattern in WRITES for match in pattern.finditer(text)]


def test_only_the_store_writes_events_and_rollups():
    offenders = {
        str(path.relative_to(REPO)): found
        for path in source_files()
        if path != THE_WRITER and (found := writes_in(path.read_text()))
    }
    assert offenders == {}


def test_the_check_sees_a_write_when_there_is_one():
    """The patterns are not vacuous: the writer itself is caught by them."""
    found = writes_in(THE_WRITER.read_text())
    assert any("INSERT INTO ingest_event" in write for write in found)
    assert writes_in("Event.objects.filter(id=1).delete()") == [
        "Event.objects.filter(id=1).delete("
    ]
    assert writes_in('cursor.execute("DELETE FROM ingest_rollup_code WHERE 1")')
