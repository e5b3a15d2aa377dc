"""The CLI's JSON (msgspec) is byte for byte what `json.dumps` wrote: indentation, key order, ASCII escapes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubediag.jsontext import dumps

HOSTILE = "".join(chr(c) for c in range(0x80)) + "é→\u2028\u2029\ufeff\U0001f600\U0010ffff\x80\x9f\u202e"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize(
    "doc",
    [
        {},
        [],
        "",
        {"a": [], "b": {}, "c": [[], [{}]], "d": None, "e": True, "f": 0, "g": -12},
        {HOSTILE: HOSTILE, "nested": [{"k": HOSTILE}]},
        [1, "two", {"three": [3, {"four": None}]}],
    ],
)
def test_same_bytes_as_json_dumps(doc: Any) -> None:
    assert dumps(doc, indent=2) == json.dumps(doc, indent=2)
    assert dumps(doc) == json.dumps(doc, separators=(",", ":"))


@settings(max_examples=200, deadline=None)
@given(doc=json_values)
def test_same_bytes_for_any_document(doc: Any) -> None:
    assert dumps(doc, indent=2) == json.dumps(doc, indent=2)
    assert dumps(doc) == json.dumps(doc, separators=(",", ":"))
