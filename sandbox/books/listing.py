"""List endpoints: ``page``/``per_page`` paging, ``sort_column``/``sort_order``, ``filter_by`` and the
``<field>``/``<field>_startswith``/``<field>_contains`` string filters Books offers on most lists."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sandbox.books import rules
from sandbox.books.envelope import invalid_value

T = TypeVar("T")


@dataclass(frozen=True)
class ListSpec:
    """How one module's list behaves: its report name, sortable columns and default order."""

    report_name: str
    sort_keys: Mapping[str, Callable[[Any], Any]]
    default_sort: str
    default_order: str = "D"
    filters: Mapping[str, Callable[[Any], bool]] = field(default_factory=dict)
    default_filter: str = ""


def page_of(
    query: Mapping[str, str], records: Iterable[T], spec: ListSpec, id_of: Callable[[T], str]
) -> tuple[list[T], dict[str, Any]]:
    """Filter by ``filter_by``, sort, and cut one page; returns the page and its ``page_context``.

    ``page_context`` stays an object: Zoho's OpenAPI files disagree (some type it as an array of one object),
    but live Books answers, and the clients written against them, read an object.
    """
    page, per_page = _paging(query)
    applied = query.get("filter_by") or spec.default_filter
    if applied:
        keep = spec.filters.get(applied)
        if keep is None:
            raise invalid_value("filter_by")
        records = filter(keep, records)
    column = query.get("sort_column") or spec.default_sort
    order = query.get("sort_order") or spec.default_order
    key = spec.sort_keys.get(column)
    if key is None:
        raise invalid_value("sort_column")
    if order not in {"A", "D"}:
        raise invalid_value("sort_order")
    # ties broken by id so that paging through equal keys never skips or repeats a record
    ordered = sorted(records, key=lambda r: (_sortable(key(r)), id_of(r)), reverse=order == "D")
    start = (page - 1) * per_page
    context: dict[str, Any] = {
        "page": page,
        "per_page": per_page,
        "has_more_page": len(ordered) > start + per_page,
        "report_name": spec.report_name,
        "sort_column": column,
        "sort_order": order,
    }
    if applied:
        context["applied_filter"] = applied
    return ordered[start : start + per_page], context


def _paging(query: Mapping[str, str]) -> tuple[int, int]:
    page = _positive_int(query.get("page", "1"), "page")
    per_page = _positive_int(query.get("per_page", str(rules.PER_PAGE_DEFAULT)), "per_page")
    if per_page > rules.PER_PAGE_MAX:
        if rules.REJECT_OVER_LIMIT_PER_PAGE:
            raise invalid_value("per_page")
        per_page = rules.PER_PAGE_MAX
    return page, per_page


def _positive_int(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise invalid_value(name) from None
    if value < 1:
        raise invalid_value(name)
    return value


def _sortable(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def matches_text(query: Mapping[str, str], name: str, value: str) -> bool:
    """``name`` exact (case-insensitive), ``name_startswith`` and ``name_contains`` as Books lists accept."""
    value = (value or "").casefold()
    exact = query.get(name)
    if exact is not None and value != exact.casefold():
        return False
    prefix = query.get(f"{name}_startswith")
    if prefix is not None and not value.startswith(prefix.casefold()):
        return False
    part = query.get(f"{name}_contains")
    return part is None or part.casefold() in value


def matches_id(query: Mapping[str, str], name: str, value: str) -> bool:
    wanted = query.get(name)
    return wanted is None or wanted == value
