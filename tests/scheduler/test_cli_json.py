"""``--json`` output: what ``json.dumps(data, indent=2, sort_keys=True, default=str)`` says, written by orjson."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from enum import IntEnum

import click
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.cli_support import emit_json


class Level(IntEnum):
    HIGH = 2


@dataclasses.dataclass
class Point:
    x: int


def emitted(data: object) -> str:
    @click.command()
    def show() -> None:
        emit_json(data)

    result = CliRunner().invoke(show)
    assert result.exit_code == 0, result.output
    return result.output


def standard(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too: orjson refuses them, json.dumps writes them
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()  # any code point, lone surrogates included (orjson refuses them)
    | st.datetimes(timezones=st.just(dt.UTC))  # default=str
    | st.just(Level.HIGH)
    | st.builds(Point, st.integers(0, 9))  # default=str, not a dict
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=8), inner, max_size=5)
        | st.dictionaries(st.integers(-(2**40), 2**40), inner, max_size=3)  # keys written as strings
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_the_output_reads_as_what_json_dumps_writes(document):
    assert json.loads(emitted(document)) == json.loads(standard(document))


def test_status_shaped_output_is_the_same_text_with_keys_sorted_and_two_space_indents():
    module = {"module": "tasks", "counts": {"fetched": 3, "created": 0}, "error": None, "open_errors": 0}
    started = dt.datetime(2026, 11, 29, 3, 0, tzinfo=dt.UTC)
    document = {"integrations": [{"name": "Acme", "modules": [module, {}], "started_at": started}], "empty": []}
    assert emitted(document) == standard(document)


def test_a_float_json_cannot_hold_is_null_not_an_invalid_token():
    # json.dumps would write NaN / Infinity, which no JSON parser outside Python reads
    assert json.loads(emitted({"x": math.nan, "y": math.inf})) == {"x": None, "y": None}
