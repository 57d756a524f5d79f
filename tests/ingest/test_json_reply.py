"""A door's JSON reply made by orjson (`ingest.doors.http.json_reply`) is, byte for byte and
header for header, what DRF's Response renders through the doors' JSONRenderer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from ingest.doors.http import json_reply

# Any text, lone surrogates and U+2028/U+2029 among it; integers past 64 bits.
text = st.text(st.characters(codec=None, categories=None), max_size=20) | st.sampled_from(
    ["\u2028", "a\u2029b", "\ud800", "\x00\x1f\x7f", '"\\/']
)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


def drf_rendered(data: dict, status: int) -> tuple:
    response = Response(data, status=status)
    response.accepted_renderer = JSONRenderer()
    response.accepted_media_type = JSONRenderer.media_type
    response.renderer_context = {}
    response.render()
    return response.status_code, response["Content-Type"], response.content


def rendered(response) -> tuple:
    if isinstance(response, Response):
        return drf_rendered(response.data, response.status_code)
    return response.status_code, response["Content-Type"], response.content


@settings(max_examples=2000, deadline=None)
@given(data=st.dictionaries(text, values, max_size=5), status=st.sampled_from([200, 400]))
def test_json_reply_renders_as_drf_does(data, status):
    try:
        expected = drf_rendered(data, status)
    except (UnicodeEncodeError, ValueError) as error:
        with pytest.raises(type(error)):
            rendered(json_reply(data, status=status))
        return

    assert rendered(json_reply(data, status=status)) == expected


def test_an_outcome_is_answered_by_orjson():
    response = json_reply({"accepted": 1, "duplicates": 0, "rejected": 0, "errors": []})

    assert not isinstance(response, Response)
    assert response.content == b'{"accepted":1,"duplicates":0,"rejected":0,"errors":[]}'
