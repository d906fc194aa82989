"""Tables that also know which of their records belong to a given project, task or bug.

List endpoints such as ``GET .../projects/{id}/logs/`` used to filter a whole table per call; on the
``large`` preset (100k time logs) that made each call cost O(world). An ``IndexedTable`` is the same
``dict`` (id -> record) every module already reads and writes, plus a secondary index per attribute
(e.g. ``project_id``) kept up to date inside the dict's own mutators. Maintaining it there, instead of at
each call site, means code that stores records the plain way (``table[id] = record``, ``del``, ``pop``)
cannot forget it — including modules this index was added after.

The index is built on the first read, not per insert: generating ``large`` stores ~125k records and most
tables of a test world are never listed, so inserts before that cost no more than a plain dict's.

``where(attr, value)`` returns exactly what ``[r for r in table.values() if r.attr == value]`` would, in
the same order (table order), so responses and paging do not change.

The one rule: the indexed attributes of a stored record must not be assigned in place; store a changed
copy under the same key instead (as ``put_time_entry`` does). No code path moves a record between
projects in place today; ``check`` lets tests assert that.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar, overload

R = TypeVar("R")
_MISSING: Any = object()


class IndexedTable(dict[str, R]):
    """``dict`` of records with, per indexed attribute, the keys of each value in table order."""

    def __init__(self, *attrs: str) -> None:
        super().__init__()
        self._attrs = attrs
        self._built = False
        # Insertion rank of each key: dict order is insertion order, and replacing a value keeps the key's
        # place, so ranks let a key that changes bucket be put back at its table position.
        self._rank: dict[str, int] = {}
        self._ranks = itertools.count()
        # attr -> value -> keys (a dict used as an ordered set)
        self._index: dict[str, dict[Any, dict[str, None]]] = {a: {} for a in attrs}

    # ------------------------------------------------------------------------------------- reading
    def where(self, attr: str, value: Any) -> list[R]:
        """The records whose ``attr`` equals ``value``, in table order."""
        keys = self._buckets(attr).get(value)
        return [self[k] for k in keys] if keys else []

    def count_where(self, attr: str, value: Any) -> int:
        return len(self._buckets(attr).get(value, ()))

    def check(self) -> None:
        """Raise AssertionError if the index disagrees with a full scan (a record was moved in place)."""
        for attr in self._attrs:
            expected: dict[Any, list[str]] = {}
            for key, record in self.items():
                if (value := getattr(record, attr)) is not None:
                    expected.setdefault(value, []).append(key)
            actual = {v: list(keys) for v, keys in self._buckets(attr).items()}
            assert actual == expected, f"index on {attr!r} is stale"

    # ------------------------------------------------------------------------------------- writing
    def __setitem__(self, key: str, record: R) -> None:
        if not self._built:
            super().__setitem__(key, record)
            return
        old = super().get(key, _MISSING)
        super().__setitem__(key, record)
        if old is _MISSING:
            self._insert(key, record, next(self._ranks))
            return
        for attr in self._attrs:
            before, after = getattr(old, attr), getattr(record, attr)
            if before != after:
                self._remove(attr, before, key)
                self._move_in(attr, after, key)

    def __delitem__(self, key: str) -> None:
        record = self[key]
        super().__delitem__(key)
        if self._built:
            self._forget(key, record)

    @overload
    def pop(self, key: str) -> R: ...
    @overload
    def pop(self, key: str, default: R | Any) -> R | Any: ...
    def pop(self, key: str, default: Any = _MISSING) -> Any:
        if key not in self:
            if default is _MISSING:
                raise KeyError(key)
            return default
        record = self[key]
        del self[key]
        return record

    def popitem(self) -> tuple[str, R]:
        key, record = super().popitem()
        if self._built:
            self._forget(key, record)
        return key, record

    def clear(self) -> None:
        super().clear()
        self._built = False
        self._rank.clear()
        for buckets in self._index.values():
            buckets.clear()

    def setdefault(self, key: str, default: R = None) -> R:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, other: Mapping[str, R] | Iterable[tuple[str, R]] = (), /, **kwargs: R) -> None:
        pairs = other.items() if isinstance(other, Mapping) else other
        for key, record in itertools.chain(pairs, kwargs.items()):
            self[key] = record

    def __ior__(self, other: Any) -> IndexedTable[R]:
        self.update(other)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # copy/deepcopy/pickle rebuild through __init__ and __setitem__, so the copy gets its own index
        return (type(self), self._attrs, None, None, iter(self.items()))

    # ------------------------------------------------------------------------------------- internals
    def _buckets(self, attr: str) -> dict[Any, dict[str, None]]:
        if not self._built:
            for rank, (key, record) in enumerate(self.items()):
                self._insert(key, record, rank)
            self._ranks = itertools.count(len(self))
            self._built = True
        return self._index[attr]

    def _insert(self, key: str, record: R, rank: int) -> None:
        """Index a key that is last in the table, hence last in each of its buckets."""
        self._rank[key] = rank
        for attr, buckets in self._index.items():
            if (value := getattr(record, attr)) is not None:  # None: e.g. task_id of a general log
                if (keys := buckets.get(value)) is None:
                    buckets[value] = keys = {}
                keys[key] = None

    def _forget(self, key: str, record: R) -> None:
        del self._rank[key]
        for attr in self._attrs:
            self._remove(attr, getattr(record, attr), key)

    def _move_in(self, attr: str, value: Any, key: str) -> None:
        """Add a replaced key to a bucket; it keeps its (earlier) table position, so the bucket may need sorting."""
        if value is None:
            return
        buckets = self._index[attr]
        keys = buckets.setdefault(value, {})
        keys[key] = None
        if len(keys) > 1 and self._rank[key] < self._rank[_second_last(keys)]:
            buckets[value] = dict.fromkeys(sorted(keys, key=self._rank.__getitem__))

    def _remove(self, attr: str, value: Any, key: str) -> None:
        if value is None:
            return
        buckets = self._index[attr]
        keys = buckets.get(value)
        if keys is not None:
            keys.pop(key, None)
            if not keys:
                del buckets[value]


def _second_last(keys: dict[str, None]) -> str:
    it: Iterator[str] = reversed(keys)
    next(it)
    return next(it)
