"""``--json`` output: ``json.dumps(data, indent=2, sort_keys=True, default=str)``, the same text, faster.

The standard library writes indented JSON with its pure-Python encoder (its C encoder cannot indent): 0.5 s of
``bpsync status --json`` at 1,000 integrations (4 MB of text) went there (issue 19). Here containers are walked in
Python and every scalar is written by the C functions the standard library uses itself, which halves the time
or better; anything this writer does not know (a key that is not a string, a cycle) goes to ``json.dumps``.
tests/scheduler/test_cli_json.py checks the text is the standard library's.
"""

from __future__ import annotations

import json
from _json import encode_basestring_ascii, make_encoder  # the C half of json (CPython builds always have it)
from typing import Any

_scalars: list[Any] = []  # the C encoder for one scalar, made on first use


def dumps_indented(data: Any) -> str:
    try:
        return _value(data, 0)
    except (TypeError, ValueError, RecursionError):  # a key json.dumps converts or refuses, a cycle
        return _standard(data)


def _standard(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)


def _scalar(value: Any) -> str:
    if not _scalars:
        # json.dumps' own settings: default=str, ensure_ascii, sort_keys, allow_nan (NaN, Infinity)
        _scalars.append(make_encoder(None, str, encode_basestring_ascii, None, ": ", ", ", True, False, True))
    return "".join(_scalars[0](value, 0))


def _value(value: Any, level: int) -> str:
    kind = type(value)  # the exact types first: most values are strings and numbers
    if kind is str:
        return encode_basestring_ascii(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is dict or (kind is not float and isinstance(value, dict)):
        return _dict(value, level) if value else "{}"
    if kind is list or kind is tuple or isinstance(value, list | tuple):
        return _list(value, level) if value else "[]"
    return _scalar(value)


_heads: dict[str, str] = {}  # '"key": ' by key: the same few field names recur thousands of times
_MAX_HEADS = 1000


def _dict(data: dict[Any, Any], level: int) -> str:
    inner = "  " * (level + 1)
    items = []
    for key in sorted(data):
        head = _heads.get(key)
        if head is None:
            if type(key) is not str:
                raise TypeError("a key json.dumps converts")
            head = encode_basestring_ascii(key) + ": "
            if len(_heads) < _MAX_HEADS:
                _heads[key] = head
        value = data[key]
        kind = type(value)
        if kind is str:
            items.append(head + encode_basestring_ascii(value))
        elif kind is int:
            items.append(head + int.__repr__(value))
        elif value is None:
            items.append(head + "null")
        else:
            items.append(head + _value(value, level + 1))
    return "{\n" + inner + (",\n" + inner).join(items) + "\n" + "  " * level + "}"


def _list(data: list[Any] | tuple[Any, ...], level: int) -> str:
    inner = "  " * (level + 1)
    return "[\n" + inner + (",\n" + inner).join([_value(v, level + 1) for v in data]) + "\n" + "  " * level + "]"
