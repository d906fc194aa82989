"""``--json`` output is exactly ``json.dumps(data, indent=2, sort_keys=True, default=str)``, written faster."""

from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict
from enum import IntEnum

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.cli_json import dumps_indented


class Level(IntEnum):
    HIGH = 2


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities included: json.dumps writes NaN, Infinity
    | st.text()  # any code point: \u escapes, surrogates, quotes, backslashes, line breaks
    | st.datetimes(timezones=st.just(dt.UTC))  # default=str
    | st.just(Level.HIGH)
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=8), inner, max_size=5)
        | st.dictionaries(st.integers(), inner, max_size=3)
    ),  # keys json.dumps converts to strings
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(documents)
def test_the_text_is_json_dumps(document):
    assert dumps_indented(document) == json.dumps(document, indent=2, sort_keys=True, default=str)


def test_status_shaped_output_and_dict_subclasses():
    module = {"module": "tasks", "counts": {"fetched": 3, "created": 0}, "error": None, "open_errors": 0}
    document = {"integrations": [{"name": "acme", "modules": [module, OrderedDict(module), {}]}], "empty": []}
    assert dumps_indented(document) == json.dumps(document, indent=2, sort_keys=True, default=str)


def test_a_cycle_is_refused_as_json_dumps_refuses_it():
    looped: list[object] = []
    looped.append(looped)
    try:
        dumps_indented(looped)
    except ValueError as exc:
        assert "Circular reference" in str(exc)
    else:
        raise AssertionError("a cycle was written")
