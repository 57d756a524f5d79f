"""ingest.framing: request bytes -> items, without Django or a database."""

import gzip
import io
import json
import time
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import framing
from ingest.doors.http import read_body, within_limit
from ingest.framing import (
    ACCEPTED_CONTENT_TYPES,
    FramingError,
    Unparsable,
    check_content_type,
    split_events,
)
from ingest.pipeline import RawItem
from tests.shared import SHIPPERS_DIR, require

MB = 1024 * 1024
LIMIT = 10 * MB


def split(body: bytes, *, content_type: str | None = "application/json"):
    return split_events(body, content_type=content_type)


def read(body: bytes, *, encoding: str | None = None, max_bytes: int = LIMIT, chunked=False):
    length = None if chunked else len(body)
    return read_body(
        io.BytesIO(body), content_length=length, content_encoding=encoding, max_bytes=max_bytes
    )


def refused(call, *args, **kwargs) -> FramingError:
    with pytest.raises(FramingError) as info:
        call(*args, **kwargs)
    return info.value


class TrickleStream:
    """Hands out at most `step` bytes a read, like a chunked upload arriving in pieces."""

    def __init__(self, data: bytes, step: int = 7):
        self.data, self.step, self.pos = data, step, 0

    def read(self, size: int) -> bytes:
        chunk = self.data[self.pos : self.pos + min(size, self.step)]
        self.pos += len(chunk)
        return chunk


class ZeroStream:
    """An endless body of zeros that counts what was read from it."""

    def __init__(self):
        self.read_total = 0

    def read(self, size: int) -> bytes:
        self.read_total += size
        return bytes(size)


class UntouchableStream:
    def read(self, size: int) -> bytes:
        raise AssertionError("the body must not be read")


EVENTS = [{"endpoint": "order_create", "code": 200}, {"endpoint": "ndr", "code": 500}]
NDJSON = b"".join(json.dumps(e).encode() + b"\n" for e in EVENTS)


# --- content types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON; Charset=UTF-8",
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/json-lines",
        "application/x-jsonlines",
        "text/json",
        "text/plain",
        "text/plain; charset=us-ascii",
        "application/x-www-form-urlencoded",
        "application/vnd.clickpost.events+json",
    ],
)
def test_every_json_content_type_is_accepted_and_framing_comes_from_the_body(content_type):
    assert split(NDJSON, content_type=content_type) == EVENTS
    assert split(json.dumps(EVENTS).encode(), content_type=content_type) == EVENTS


@pytest.mark.parametrize(
    "content_type",
    [
        "application/xml",
        "text/xml",
        "multipart/form-data; boundary=----x",
        "text/html",
        "application/octet-stream",
        "application/msgpack",
        "image/png",
        "application/json-patch",
    ],
)
def test_a_content_type_that_cannot_be_json_is_refused_415_naming_it(content_type):
    error = refused(split, json.dumps(EVENTS).encode(), content_type=content_type)
    assert error.status == 415
    assert content_type.split(";")[0] in error.message
    assert "application/json" in error.message and "application/x-ndjson" in error.message


def test_content_type_is_checked_before_the_body_is_read():
    assert check_content_type("application/jsonl") is None
    assert refused(check_content_type, "application/xml").status == 415


def test_accepted_content_types_lists_syslog_ngs_form_default():
    assert "application/x-www-form-urlencoded" in ACCEPTED_CONTENT_TYPES
    assert all(isinstance(t, str) for t in ACCEPTED_CONTENT_TYPES)


# --- framings ------------------------------------------------------------------------------


def test_one_object_is_one_event():
    assert split(b'{"endpoint": "ndr"}') == [{"endpoint": "ndr"}]


def test_an_array_gives_its_items_in_order():
    assert split(json.dumps(EVENTS).encode()) == EVENTS


def test_an_empty_array_is_an_empty_batch():
    assert split(b"[]") == []


@pytest.mark.parametrize("key", ["events", "logs", "records"])
def test_a_wrapped_array_gives_the_wrapped_items(key):
    assert split(json.dumps({key: EVENTS}).encode()) == EVENTS


def test_an_empty_wrapper_is_an_empty_batch():
    assert split(b'{"logs": []}') == []


def test_an_object_with_a_wrapper_key_beside_other_fields_is_one_event_not_a_batch():
    event = {"endpoint": "ndr", "records": [1, 2]}
    assert split(json.dumps(event).encode()) == [event]


def test_a_wrapper_key_that_does_not_hold_a_list_is_one_event():
    assert split(b'{"events": {"a": 1}}') == [{"events": {"a": 1}}]


def test_non_dict_items_are_returned_as_they_are_for_the_validator_to_reject():
    assert split(b'[1, "x", null, [2], {"a": 1}]') == [1, "x", None, [2], {"a": 1}]
    assert split(b'"just a string"') == ["just a string"]


def test_lf_json_lines_with_final_newline_give_each_object():
    assert split(NDJSON, content_type="application/x-ndjson") == EVENTS


def test_lf_json_lines_without_final_newline_give_each_object():
    assert split(NDJSON.rstrip(b"\n")) == EVENTS


def test_crlf_json_lines_with_final_newline_give_each_object():
    assert split(NDJSON.replace(b"\n", b"\r\n")) == EVENTS


def test_crlf_json_lines_without_final_newline_give_each_object():
    assert split(NDJSON.replace(b"\n", b"\r\n").rstrip(b"\r\n")) == EVENTS


def test_blank_and_whitespace_only_lines_are_skipped():
    body = b"\n  \n" + NDJSON.replace(b"\n", b"\n \t \r\n\n") + b"   "
    assert split(body) == EVENTS


def test_a_json_line_holding_an_array_is_flattened():
    body = b'[{"a": 1}, {"a": 2}]\n{"a": 3}\n'
    assert split(body) == [{"a": 1}, {"a": 2}, {"a": 3}]


def test_a_json_line_holding_a_wrapper_is_unwrapped():
    assert split(b'{"events": [{"a": 1}]}\n{"a": 2}') == [{"a": 1}, {"a": 2}]


def test_objects_concatenated_without_separator_are_each_an_event():
    assert split(b'{"a": 1}{"a": 2}{"a": 3}') == [{"a": 1}, {"a": 2}, {"a": 3}]


def test_objects_concatenated_with_spaces_or_newlines_inside_are_each_an_event():
    body = b'{"a":\n 1}  {"a": 2}\t{\n"a": 3\n}'
    assert split(body) == [{"a": 1}, {"a": 2}, {"a": 3}]


def test_a_pretty_printed_object_is_one_event():
    event = {"endpoint": "ndr", "response": {"meta": {"status": 500}}}
    assert split(json.dumps(event, indent=2).encode()) == [event]


@pytest.mark.parametrize(
    "body", [b"", b" ", b"\r\n\r\n", b"\t \n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\n"]
)
def test_an_empty_or_blank_body_is_an_empty_batch(body):
    assert split(body) == []


def test_a_utf8_bom_is_skipped():
    assert split(b'\xef\xbb\xbf{"a": "\xc3\xa9"}') == [{"a": "é"}]
    assert split(b"\xef\xbb\xbf" + NDJSON) == EVENTS


# --- bodies that do not parse --------------------------------------------------------------


def test_a_broken_one_line_body_is_400_naming_line_and_column():
    error = refused(split, b'{"a": 1,}')
    assert error.status == 400
    assert "line 1, column 9" in error.message


def test_a_broken_pretty_printed_body_is_400_naming_the_line_of_the_fault():
    body = b'{\n  "a": 1,\n  "b": [1, 2\n  "c": 3\n}'
    error = refused(split, body)
    assert error.status == 400
    assert "line 4, column 3" in error.message


def test_a_pretty_printed_array_missing_a_comma_is_400_not_json_lines():
    body = b'[\n  {"a": 1}\n  {"a": 2}\n]'
    error = refused(split, body)
    assert (error.status, "line 3, column 3" in error.message) == (400, True)


def test_a_bad_json_line_becomes_an_unparsable_item_at_its_index():
    body = b'{"a": 1}\n{"a": 2\n{"a": 3}\n'
    items = split(body)
    assert items[0] == {"a": 1} and items[2] == {"a": 3}
    assert isinstance(items[1], Unparsable)
    assert items[1].line_no == 2
    assert "line 2" in items[1].message


def test_a_bad_first_json_line_does_not_spoil_the_others():
    items = split(b'{"a": \n{"a": 2}\r\n{"a": 3}')
    assert [type(i).__name__ for i in items] == ["Unparsable", "dict", "dict"]
    assert items[0].line_no == 1


def test_unparsable_line_numbers_count_blank_lines():
    items = split(b'{"a": 1}\n\n\nnot json\n{"a": 2}')
    assert items[1] == Unparsable(4, items[1].message)


def test_json_lines_where_no_line_parses_is_400():
    error = refused(split, b"hello\nworld\n")
    assert error.status == 400
    assert "line 1, column 1" in error.message


def test_unparsable_is_a_frozen_value():
    item = Unparsable(3, "why")
    with pytest.raises(AttributeError):
        item.line_no = 4  # type: ignore[misc]
    assert item == Unparsable(3, "why")


# --- bytes that are not UTF-8 --------------------------------------------------------------


def test_a_single_document_that_is_not_utf8_is_400_naming_the_byte_offset():
    error = refused(split, b'{"message": "caf\xe9"}')
    assert error.status == 400
    assert "UTF-8" in error.message and "byte offset 16" in error.message


def test_a_json_line_that_is_not_utf8_is_unparsable_and_names_its_byte_offset():
    body = b'{"a": 1}\n{"a": "\xff"}\n{"a": 3}'
    items = split(body)
    assert items[0] == {"a": 1} and items[2] == {"a": 3}
    assert items[1].line_no == 2
    assert "byte offset 16" in items[1].message


# --- values JSON forbids, and parser limits ------------------------------------------------


@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e999"])
def test_a_non_finite_number_makes_its_item_unparsable(value):
    items = split(b'{"latency_ms": ' + value + b"}")
    assert len(items) == 1 and isinstance(items[0], Unparsable)
    assert items[0].line_no == 1


def test_nan_in_an_array_spoils_only_its_own_item():
    items = split(b'[{"a": 1}, {"b": {"c": [NaN]}}, {"a": 3}]')
    assert items[0] == {"a": 1} and items[2] == {"a": 3}
    assert items[1] == Unparsable(1, "NaN is not valid JSON")


def test_nan_in_a_json_line_is_reported_on_that_line():
    items = split(b'{"a": 1}\r\n{"a": Infinity}\r\n{"a": 3}')
    assert items[1] == Unparsable(2, "Infinity is not valid JSON")


def test_a_huge_integer_makes_its_item_unparsable_without_crashing():
    huge = b"9" * 5000
    items = split(b'[{"code": ' + huge + b'}, {"code": 200}]')
    assert isinstance(items[0], Unparsable) and "5000 digits" in items[0].message
    assert items[1] == {"code": 200}


def test_a_long_float_is_an_ordinary_number():
    assert split(b'{"x": 0.' + b"1" * 5000 + b"}") == [{"x": pytest.approx(0.1111111)}]


def test_a_100k_deep_array_is_400_not_a_crash():
    error = refused(split, b"[" * 100_000 + b"]" * 100_000)
    assert error.status == 400
    assert "nested too deeply" in error.message


def test_a_deeply_nested_json_line_is_unparsable_and_its_neighbours_kept():
    body = b'{"a": 1}\n{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b'}\n{"a": 3}'
    items = split(body)
    assert items[0] == {"a": 1} and items[2] == {"a": 3}
    assert items[1].line_no == 2 and "nested too deeply" in items[1].message


def test_moderate_nesting_parses():
    nested: list = []
    for _ in range(199):
        nested = [nested]
    assert split(b'{"a": ' + b"[" * 200 + b"]" * 200 + b"}") == [{"a": nested}]


# --- event count limit ---------------------------------------------------------------------


def limited(body: bytes) -> list:
    return list(within_limit([RawItem(value) for value in split(body)]))


def test_a_batch_at_the_event_limit_is_accepted(settings):
    settings.INGEST_MAX_EVENTS = 10
    assert len(limited(json.dumps([{}] * 10).encode())) == 10


def test_a_batch_over_the_event_limit_is_413_with_both_counts(settings):
    settings.INGEST_MAX_EVENTS = 10
    error = refused(limited, json.dumps([{}] * 11).encode())
    assert error.status == 413
    assert error.message == "batch has 11 events; the limit is 10"


def test_unparsable_lines_count_toward_the_event_limit(settings):
    settings.INGEST_MAX_EVENTS = 2
    error = refused(limited, b"{}\nbad\n{}")
    assert error.status == 413


# --- read_body: plain ----------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [None, "", "identity", "Identity"])
def test_an_uncompressed_body_is_returned_as_sent(encoding):
    assert read(NDJSON, encoding=encoding) == NDJSON


def test_an_empty_body_is_empty():
    assert read(b"") == b""
    assert read(b"", encoding="gzip") == b""


def test_a_chunked_body_without_content_length_is_read_to_eof():
    body = NDJSON * 1000
    got = read_body(
        TrickleStream(body), content_length=None, content_encoding=None, max_bytes=LIMIT
    )
    assert got == body


def test_a_content_length_over_the_limit_is_413_before_reading():
    error = refused(
        read_body,
        UntouchableStream(),
        content_length=LIMIT + 1,
        content_encoding=None,
        max_bytes=LIMIT,
    )
    assert error.status == 413
    assert str(LIMIT) in error.message


def test_a_compressed_content_length_over_the_limit_is_413_before_reading():
    error = refused(
        read_body,
        UntouchableStream(),
        content_length=LIMIT + 1,
        content_encoding="gzip",
        max_bytes=LIMIT,
    )
    assert error.status == 413


def test_an_endless_chunked_body_is_413_after_reading_just_past_the_limit():
    stream = ZeroStream()
    error = refused(read_body, stream, content_length=None, content_encoding=None, max_bytes=LIMIT)
    assert error.status == 413
    assert stream.read_total == LIMIT + 1


def test_a_body_shorter_than_its_content_length_is_400():
    error = refused(
        read_body,
        io.BytesIO(b"{}"),
        content_length=10,
        content_encoding=None,
        max_bytes=LIMIT,
    )
    assert error.status == 400


def test_a_body_exactly_at_the_limit_is_accepted():
    assert len(read(bytes(1000), max_bytes=1000, chunked=True)) == 1000


# --- read_body: compressed -----------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "GZIP", " gzip "])
def test_a_gzip_body_is_inflated(encoding):
    assert read(gzip.compress(NDJSON), encoding=encoding) == NDJSON


def test_a_chunked_gzip_body_is_inflated():
    assert read(gzip.compress(NDJSON), encoding="gzip", chunked=True) == NDJSON


def test_a_multi_member_gzip_body_is_inflated_whole():
    body = gzip.compress(b'{"a": 1}\n') + gzip.compress(b'{"a": 2}\n')
    assert read(body, encoding="gzip") == b'{"a": 1}\n{"a": 2}\n'


def test_a_zlib_wrapped_deflate_body_is_inflated():
    assert read(zlib.compress(NDJSON), encoding="deflate") == NDJSON


def test_a_raw_deflate_body_is_inflated():
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw = compressor.compress(NDJSON) + compressor.flush()
    assert read(raw, encoding="deflate") == NDJSON


def test_a_large_gzip_body_spanning_many_input_slices_is_inflated():
    body = b"".join(
        json.dumps({"n": n, "pad": "x" * (n % 97)}).encode() + b"\n" for n in range(50_000)
    )
    assert read(gzip.compress(body, 1), encoding="gzip") == body


def test_a_decompressed_body_exactly_at_the_limit_is_accepted():
    assert len(read(gzip.compress(bytes(5000)), encoding="gzip", max_bytes=5000)) == 5000


def test_a_decompressed_body_one_byte_over_the_limit_is_413_naming_the_limit():
    error = refused(read, gzip.compress(bytes(5001)), encoding="gzip", max_bytes=5000)
    assert error.status == 413
    assert "5000 bytes" in error.message


@pytest.mark.parametrize(
    "body",
    [
        b"this is not gzip at all",
        gzip.compress(NDJSON)[:-12],
        gzip.compress(NDJSON)[:10] + b"\x00" * 20 + gzip.compress(NDJSON)[30:],
    ],
    ids=["not-gzip", "truncated", "corrupt-middle"],
)
def test_corrupt_gzip_is_400_saying_so(body):
    error = refused(read, body, encoding="gzip")
    assert error.status == 400
    assert error.message.startswith("body is not valid gzip: ")


def test_gzip_with_a_wrong_checksum_is_400():
    body = bytearray(gzip.compress(NDJSON))
    body[-8] ^= 0xFF
    assert refused(read, bytes(body), encoding="gzip").status == 400


def test_gzip_followed_by_junk_is_400():
    assert refused(read, gzip.compress(NDJSON) + b"junk", encoding="gzip").status == 400


def test_deflate_followed_by_junk_is_400():
    error = refused(read, zlib.compress(NDJSON) + b"junk", encoding="deflate")
    assert error.status == 400
    assert "deflate" in error.message


@pytest.mark.parametrize("encoding", ["br", "compress", "zstd", "gzip, br", "gzip, gzip"])
def test_an_unknown_or_stacked_content_encoding_is_415(encoding):
    error = refused(read, NDJSON, encoding=encoding)
    assert error.status == 415
    assert encoding in error.message


def test_a_compressed_body_over_the_raw_limit_is_413():
    body = gzip.compress(bytes(range(256)) * 100, 0)
    assert refused(read, body, encoding="gzip", max_bytes=1000, chunked=True).status == 413


@pytest.fixture(scope="module")
def zeros_member() -> bytes:
    """One gzip member of 64 MB of zeros (about 65 KB compressed)."""
    return gzip.compress(bytes(64 * MB), 9)


def test_a_gzip_bomb_is_refused_413_without_inflating_it(zeros_member):
    started = time.perf_counter()
    error = refused(read, zeros_member, encoding="gzip")
    assert (error.status, str(LIMIT) in error.message) == (413, True)
    assert time.perf_counter() - started < 0.5


def test_a_ten_gigabyte_multi_member_gzip_bomb_is_refused_in_well_under_a_second(zeros_member):
    bomb = zeros_member * 150  # 150 x 64 MB = 9.6 GB of zeros, under the 10 MB raw cap
    assert len(bomb) < LIMIT
    started = time.perf_counter()
    error = refused(read, bomb, encoding="gzip", chunked=True)
    assert error.status == 413
    assert time.perf_counter() - started < 0.5


def test_a_bomb_of_many_small_members_is_also_cut_at_the_limit():
    member = gzip.compress(bytes(MB))
    assert refused(read, member * 11, encoding="gzip").status == 413
    assert len(read(member * 10, encoding="gzip")) == 10 * MB


# --- captured requests of real shippers ----------------------------------------------------


def captured(shipper: str, case: str) -> list[tuple[dict[str, str], bytes]]:
    """(headers, body) of each captured request, headers lower-cased from the raw head."""
    requests = []
    folder = require(SHIPPERS_DIR / shipper / "captured" / case)
    for head_path in sorted(folder.glob("*.head.bin")):
        lines = head_path.read_bytes().decode("latin-1").split("\r\n")[1:]
        headers = dict(
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(":") for line in lines if line)
        )
        body = head_path.with_name(head_path.name.replace(".head.", ".body.")).read_bytes()
        requests.append((headers, body))
    return requests


def replay(headers: dict[str, str], body: bytes) -> list:
    length = headers.get("content-length")
    raw = read_body(
        io.BytesIO(body),
        content_length=int(length) if length is not None else None,
        content_encoding=headers.get("content-encoding"),
        max_bytes=LIMIT,
    )
    return split_events(raw, content_type=headers.get("content-type"))


SHIPPED_MESSAGES = ["hello 1", 'héllo "quoted" ✓', "line1\nline2"]


@pytest.mark.parametrize(
    ("shipper", "case", "events_per_request"),
    [
        ("syslog-ng", "array", [3]),
        ("syslog-ng", "ndjson", [3]),
        ("syslog-ng", "raw", [3]),
        ("syslog-ng", "single", [1, 1, 1]),
        ("pino-http-send", "json", [3]),
        ("pino-http-send", "ndjson", [3]),
        ("winston-http", "batch", [3]),
        ("winston-http", "single", [1, 1, 1]),
    ],
)
def test_captured_shipper_requests_split_into_their_events(shipper, case, events_per_request):
    batches = [replay(headers, body) for headers, body in captured(shipper, case)]
    assert [len(batch) for batch in batches] == events_per_request
    items = [item for batch in batches for item in batch]
    assert all(isinstance(item, dict) for item in items)
    assert [item.get("message", item.get("msg")) for item in items] == SHIPPED_MESSAGES


def test_pino_ndjson_is_sent_without_a_content_type_and_still_splits():
    ((headers, body),) = captured("pino-http-send", "ndjson")
    assert "content-type" not in headers
    assert len(replay(headers, body)) == 3


@pytest.mark.parametrize("case", ["bulk", "server-down-then-up"])
def test_rsyslog_elasticsearch_bulk_bodies_split_without_crashing(case):
    # Action lines and documents alternate; the _bulk door will pair them, not this one.
    for headers, body in captured("rsyslog-omelasticsearch", case):
        items = replay(headers, body)
        assert all(isinstance(item, dict) for item in items)
        assert len(items) == 2 * body.count(b'{"index"')


def test_captured_chunked_gzip_request_inflates_to_the_decoded_capture():
    ((headers, body),) = captured("otlp-http-js", "json-gzip")
    assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
    raw = read_body(
        TrickleStream(body, step=50),
        content_length=None,
        content_encoding=headers["content-encoding"],
        max_bytes=LIMIT,
    )
    decoded = SHIPPERS_DIR / "otlp-http-js/captured/json-gzip/0001.body.decoded.bin"
    assert raw == decoded.read_bytes()


# --- the orjson fast path reads exactly what the careful parser reads, or steps aside ---

FAST_PATH_BODIES = [
    b'{"a": 1}',
    b'[{"a": 1}, {"b": [1, 2.5, -0.0, null, true]}]',
    b'{"events": [{"a": 1}, {"a": 2}]}',
    b'{"events": [{"a": 1}], "other": 1}',
    b'{"a": 1}\n{"b": 2}\r\n\n[{"c": 3}, {"d": 4}]\n',
    b'{"a": "\\u00e9\\u0000x", "b": "\xc3\xa9"}',
    b'{"a": 18446744073709551615, "b": -9223372036854775808}',
    b'{"a": 123456789012345678901234567890}',  # past 64 bits: orjson would give a float
    b'{"a": 1e400}\n{"b": 2}',
    b'{"a": NaN}',
    b'{"a": "\\ud800"}',
    b'\xef\xbb\xbf{"a": 1}',
    b'{"a": 1}{"b": 2}',
    b'{\n  "a": 1\n}\n{\n  "b": 2\n}',
    b'{"a": 1}\n{"b": \n',
    b'{"a": 1, "a": 2}',
    b"[" * 40 + b"]" * 40,
]


@pytest.mark.parametrize("body", FAST_PATH_BODIES)
def test_the_fast_path_reads_what_the_careful_parser_reads_or_steps_aside(body):
    fast = framing._frame_fast(body)
    try:
        careful = framing._parse_documents(framing._decode(body, offset=0), first_line=1)
    except framing._Malformed:
        careful = None
    if fast is not None:
        assert fast == careful
        assert [type(v) for v in fast] == [type(v) for v in careful]
    assert framing.split_events(body, content_type=None) is not None


def test_the_fast_path_takes_the_usual_bodies():
    assert framing._frame_fast(b'{"a": 1}\n{"a": 2}\n') == [{"a": 1}, {"a": 2}]
    assert framing._frame_fast(b'{"a": 12345678901234567890}') is None


# --- the orjson path (`_frame_fast`) gives exactly what the careful parser gives ---

_json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
_json_doc = st.recursive(
    _json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["events", "logs", "a", "b", "msg"]), inner, max_size=3),
    ),
    max_leaves=8,
)
_line = st.one_of(
    _json_doc.map(lambda doc: json.dumps(doc, separators=(",", ":"))),
    _json_doc.map(lambda doc: json.dumps(doc, indent=1)),  # a document over several lines
    st.sampled_from(
        ["", "  ", "\r", "{", "[", "}", '{"a":1}{"b":2}', '{"a":', '"x', "NaN", "\ufeff{}"]
    ),
)


def _careful_frame(body: bytes):
    """`framing._frame` without its orjson path: the careful parser's items, or its 400."""
    try:
        return framing._parse_documents(framing._decode(body, offset=0), first_line=1)
    except framing._Malformed:
        items = framing._parse_lines(body) if framing._looks_line_framed(body) else None
        return "refused" if items is None else items


@settings(max_examples=2000, deadline=None)
@given(
    lines=st.lists(_line, min_size=1, max_size=6),
    newline=st.sampled_from(["\n", "\r\n"]),
    final=st.booleans(),
)
def test_the_orjson_framing_gives_the_careful_parsers_items(lines, newline, final):
    body = (newline.join(lines) + (newline if final else "")).encode("utf-8", "surrogatepass")
    if not body.removeprefix(b"\xef\xbb\xbf").strip():
        return  # blank: `_frame` answers [] before either parser
    fast = framing._frame_fast(body)
    if fast is not None:
        assert fast == _careful_frame(body)
