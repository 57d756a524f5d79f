"""A decompressed request body -> raw event items: the JSON framing.

Pure (no Django, no database), so it is tested without a server. Reading the body under the byte
cap and inflating it is the doors' one HTTP path (`ingest.doors.http.read_body`).

- `split_events` reads the framing from the body itself, because shippers label the same JSON
  with half a dozen content types, and returns one item per event. Field checks are left to
  `events.py`: an item here may be any JSON value, or an `Unparsable` standing in for an event
  that could not be read, so that one bad event is reported by its index instead of failing the
  whole batch.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import orjson

ACCEPTED_CONTENT_TYPES: tuple[str, ...] = (
    "application/json",
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/json-lines",
    "application/x-jsonlines",
    "text/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/*+json",
)
# An object whose only key is one of these, holding a list, is a batch, not an event.
WRAPPER_KEYS: tuple[str, ...] = ("events", "logs", "records")

_BOM = "\ufeff"
_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")
# Every digit as "0", every other byte as ".": 19 zeros in a row are a run of 19 digits.
_DIGITS_AS_ZERO = bytes(48 if 48 <= byte <= 57 else 46 for byte in range(256))
_LONG_DIGITS = b"0" * 19


class FramingError(Exception):
    """The body is refused as a whole; nothing of it may be stored.

    `status` is the HTTP status to answer (400, 413 or 415) and `message` the sentence for the
    JSON error body.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Unparsable:
    """Stands where an event would be when its JSON could not be read.

    Made for a JSON line that does not parse (or is not UTF-8, or is nested too deeply) and for
    an item holding a value JSON forbids (NaN, Infinity, 1e400, an integer over Python's
    4300-digit limit). `line_no` is 1-based, counting blank lines: the item's own line in JSON
    lines, else the line where the document holding it starts.
    """

    line_no: int
    message: str


def check_content_type(content_type: str | None) -> None:
    """Refuse (415) a Content-Type that cannot be JSON; callable before the body is read.

    Parameters (charset, boundary) are ignored and the body is always read as UTF-8.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if not media or media in ACCEPTED_CONTENT_TYPES:
        return
    if media.startswith("application/") and media.endswith("+json"):
        return
    accepted = ", ".join(ACCEPTED_CONTENT_TYPES)
    raise FramingError(
        415,
        f"Content-Type {media!r} is not accepted; send JSON with one of: {accepted}, or none",
    )


def split_events(body: bytes, *, content_type: str | None) -> list[Any]:
    """The items of a JSON body, in order: dicts normally, any other JSON value as it is, and
    `Unparsable` for an event that could not be read.

    Framings, found from the body: one object; an array; a wrapper (an object whose only key is
    `events`, `logs` or `records`, holding a list; with any other key beside it, it is one
    event); documents one after another with or without whitespace between them (JSON lines with
    LF or CRLF, Splunk HEC's `{..}{..}`, a pretty-printed object), where each document is framed
    the same way, so an array on a line is flattened. A leading UTF-8 BOM is skipped; an empty or
    blank body is `[]`.

    When the body is not such a stream, it is read as JSON lines, each bad line becoming an
    `Unparsable`, provided it has two or more non-blank lines, at least one of which parses, and
    its first line is not a lone `[` or `{` (a pretty-printed document). Otherwise it is a 400
    naming the line and column, or the byte offset of the first byte that is not UTF-8 (the body
    is never decoded with replacement characters). The event-count limit is the door's
    (`ingest.doors.http.Door`), applied once whatever the framing.
    """
    check_content_type(content_type)
    return _frame(body)


class _Malformed(Exception):
    """A document or line that cannot be read; `reason` completes 'body is ...'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Bad:
    """Put by the parser in place of a value JSON forbids, so it spoils one item, not the body."""

    message: str


def _frame(body: bytes) -> list[Any]:
    if not body.removeprefix(_BOM.encode()).strip():
        return []
    fast = _frame_fast(body)
    if fast is not None:
        return fast
    try:
        return _parse_documents(_decode(body, offset=0), first_line=1)
    except _Malformed as problem:
        items = _parse_lines(body) if _looks_line_framed(body) else None
        if items is None:
            raise FramingError(400, f"body is {problem.reason}") from None
        return items


def _frame_fast(body: bytes) -> list[Any] | None:
    """The items of a well-formed body by orjson (about 5x faster than json), or None to let
    the careful parser read it.

    Taken only when the body is one JSON document, or JSON lines each holding whole documents,
    and orjson reads every one: then the items are exactly the careful parser's. orjson refuses
    what that parser marks or reports (NaN, Infinity, 1e400, bad UTF-8, lone surrogates, a BOM,
    deep nesting), so any refusal falls back to it; the one thing orjson reads differently,
    an integer past 64 bits (it returns a float), is kept off this path by refusing any body
    with a run of 19 digits.
    """
    if _LONG_DIGITS in body.translate(_DIGITS_AS_ZERO):  # a regex search costs 20x more
        return None
    lines = body.split(b"\n")
    if not lines[-1]:
        lines.pop()  # what follows the last line's newline
    try:
        # The usual body, JSON lines with no blank one, in one mapped call (a Python loop
        # costs a third of the parse). Two lines or more that each parse are not one
        # document, and one line is the body itself: the framing is the one below.
        values = list(map(orjson.loads, lines))
    except orjson.JSONDecodeError:
        pass
    else:
        if set(map(type, values)) == {dict} and 1 not in set(map(len, values)):
            return values  # every item an event: nothing to unwrap
        return [item for value in values for item in _unwrap(value)]
    try:
        return _unwrap(orjson.loads(body))
    except orjson.JSONDecodeError:
        pass
    items: list[Any] = []
    for line in lines:
        if line.strip(b" \t\r"):
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                return None
            if value.__class__ is dict and len(value) != 1:  # an event: `_unwrap` without a call
                items.append(value)
            else:
                items += _unwrap(value)
    return items


def _looks_line_framed(body: bytes) -> bool:
    lines = [line.strip() for line in body.split(b"\n") if line.strip()]
    return len(lines) > 1 and lines[0] not in (b"[", b"{")


def _parse_lines(body: bytes) -> list[Any] | None:
    """JSON lines, a bad line kept as an `Unparsable`; None when no line parses at all."""
    items: list[Any] = []
    parsed = 0
    offset = 0
    for line_no, line in enumerate(body.split(b"\n"), start=1):
        if line.strip():
            try:
                items += _parse_documents(_decode(line, offset=offset), first_line=line_no)
                parsed += 1
            except _Malformed as problem:
                items.append(Unparsable(line_no, problem.reason))
        offset += len(line) + 1
    return items if parsed else None


def _decode(data: bytes, *, offset: int) -> str:
    try:
        return data.decode("utf-8").removeprefix(_BOM)
    except UnicodeDecodeError as exc:
        raise _Malformed(f"not valid UTF-8 at byte offset {offset + exc.start}") from None


def _parse_documents(text: str, *, first_line: int) -> list[Any]:
    """Every JSON document in `text`, framed; `first_line` is the body line `text` starts on."""
    decoder = _Decoder()
    items: list[Any] = []
    line, counted = first_line, 0
    pos = _skip_whitespace(text, 0)
    while pos < len(text):
        line, counted = line + text.count("\n", counted, pos), pos
        bad_before = decoder.bad
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            at = f"line {first_line - 1 + exc.lineno}, column {exc.colno}"
            raise _Malformed(f"not valid JSON: {exc.msg} at {at}") from None
        except RecursionError:
            raise _Malformed(f"nested too deeply in the JSON starting at line {line}") from None
        except ValueError:
            if decoder.marks_ints:
                raise
            # An integer over Python's digit limit: read on with a decoder that marks it.
            decoder = _Decoder(marks_ints=True, bad=decoder.bad)
            continue
        framed = _unwrap(value)
        items += _spot_bad(framed, line) if decoder.bad > bad_before else framed
        pos = _skip_whitespace(text, pos)
    return items


def _skip_whitespace(text: str, pos: int) -> int:
    """The position of the first character at or after `pos` that is not JSON whitespace."""
    match = _JSON_WHITESPACE.match(text, pos)  # `*`: it always matches, if only ""
    return match.end() if match else pos


def _unwrap(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, inner),) = value.items()
        if key in WRAPPER_KEYS and isinstance(inner, list):
            return inner
    return [value]


def _spot_bad(items: list[Any], line: int) -> list[Any]:
    """Replace each item holding a forbidden value with an `Unparsable` saying which."""
    return [Unparsable(line, bad.message) if (bad := _find_bad(i)) else i for i in items]


def _find_bad(value: Any) -> _Bad | None:
    stack = [value]  # a loop, not recursion: the item may be nested as deep as json allows
    while stack:
        current = stack.pop()
        if isinstance(current, _Bad):
            return current
        if isinstance(current, dict):
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return None


class _Decoder(json.JSONDecoder):
    """Python's json accepts NaN, Infinity and 1e400 and raises on 4301-digit integers; here
    each becomes a `_Bad` marker instead, counted in `bad`.

    Integers are left to the C scanner (a Python call for each one costs a tenth of the
    parse), which raises ValueError on a huge one; only with `marks_ints` is each integer read
    by `_int`, which marks it instead.
    """

    def __init__(self, *, marks_ints: bool = False, bad: int = 0) -> None:
        super().__init__(
            parse_constant=self._constant,
            parse_int=self._int if marks_ints else None,
            parse_float=self._float,
        )
        self.marks_ints = marks_ints
        self.bad = bad

    def _mark(self, message: str) -> _Bad:
        self.bad += 1
        return _Bad(message)

    def _constant(self, name: str) -> _Bad:
        return self._mark(f"{name} is not valid JSON")

    def _int(self, digits: str) -> int | _Bad:
        try:
            return int(digits)
        except ValueError:
            return self._mark(f"an integer of {len(digits)} digits is too large")

    def _float(self, text: str) -> float | _Bad:
        number = float(text)
        if math.isfinite(number):
            return number
        return self._mark(f"the number {text[:40]} is out of range")
