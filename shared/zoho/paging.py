"""Pages with an opaque cursor, so a sync module can checkpoint a listing and resume exactly there.

Projects' classic API pages by record position (``index``/``range``, the end is a short page or HTTP 204);
Books by page number (``page``/``per_page`` + ``page_context.has_more_page``). Both become ``Page`` with a
``next_cursor`` string that only the client that produced it interprets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None  # None: this was the last page


def iterate(fetch: Callable[[str | None], Page[T]], cursor: str | None = None) -> Iterator[T]:
    """Every item of a listing, fetching pages lazily from ``cursor`` (None = the start)."""
    while True:
        page = fetch(cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def cursor_number(cursor: str | None, *, default: int, what: str) -> int:
    """Decode a numeric cursor; a foreign or corrupted one is a programming error, said plainly."""
    if cursor is None:
        return default
    try:
        value = int(cursor)
    except ValueError:
        raise ValueError(f"not a {what} cursor: {cursor!r}") from None
    if value < 1:
        raise ValueError(f"not a {what} cursor: {cursor!r}")
    return value
