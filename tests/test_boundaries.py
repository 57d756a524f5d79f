"""The rooms' rules that import-linter cannot see (docs/ARCHITECTURE.md): nothing but
`ingest/store.py` writes events or rollups (and `ingest/rollups.py` folds the rollups' stripes,
which changes no sum), and nothing but `stats/rates.py` divides errors by
calls. import-linter (pyproject `[tool.importlinter]`, run by `make lint`) guards the import
graph; this guards the SQL, the ORM calls and the arithmetic."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOMS = (
    "clickpost_monitor",
    "ingest",
    "stats",
    "tokens",
    "dashboard",
    "demo",
    "alerts",
    "subscriptions",
)
THE_WRITER = REPO / "ingest" / "store.py"
THE_FOLDING = REPO / "ingest" / "rollups.py"  # rewrites rollup rows, never what they sum
THE_FORMULA = REPO / "stats" / "rates.py"
MAKES_TRAFFIC = ("demo",)  # divides volumes (calls per shipment) to make traffic; shows no rate
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
        if path not in (THE_WRITER, THE_FOLDING) and (found := writes_in(path.read_text()))
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


def _words(node: ast.AST) -> str:
    """The names, attributes and string keys in an expression: `row["errors"]` -> "row errors"."""
    found = []
    for part in ast.walk(node):
        if isinstance(part, ast.Name):
            found.append(part.id)
        elif isinstance(part, ast.Attribute):
            found.append(part.attr)
        elif isinstance(part, ast.Constant) and isinstance(part.value, str):
            found.append(part.value)
    return " ".join(found).lower()


def rate_divisions_in(text: str) -> list[str]:
    """Divisions that compute a rate, a share or a change of errors or calls: errors on either
    side of the line, or calls (events) below it."""
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            above, below = _words(node.left), _words(node.right)
            if "error" in above + below or "call" in below or "event" in below:
                found.append(ast.unparse(node))
    return found


def test_only_stats_rates_divides_errors_by_calls():
    """One formula: pages, charts, alerts, the anomaly test and e-mails call stats.rates."""
    offenders = {
        str(path.relative_to(REPO)): found
        for path in source_files()
        if path != THE_FORMULA
        and path.parts[len(REPO.parts)] not in MAKES_TRAFFIC
        and (found := rate_divisions_in(path.read_text()))
    }
    assert offenders == {}


def test_the_rate_check_sees_a_division_when_there_is_one():
    assert rate_divisions_in("share = errors / bucket_calls if bucket_calls else 0.0")
    assert rate_divisions_in('rates = [row["errors"] / total for row in rows]')
    assert rate_divisions_in("usual = failed / point.events")
    assert rate_divisions_in("x = (errors - before) / before * 100")
    assert not rate_divisions_in("seconds = elapsed / 60")
