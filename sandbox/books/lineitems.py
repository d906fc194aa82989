"""Line items shared by invoices, estimates and recurring invoices: parsing, totals and rendering."""

from __future__ import annotations

from typing import Any

from sandbox.books import records
from sandbox.books.envelope import invalid_value, required
from sandbox.books.formats import money, parse_number
from sandbox.world import LineItem, World


def parse_line_items(world: World, org_id: str, raw: Any, *, billable: bool) -> list[LineItem]:
    """Validate ``line_items``; ``billable`` allows ``time_entry_ids``/``expense_id`` (invoices only)."""
    if not isinstance(raw, list) or not raw or not all(isinstance(item, dict) for item in raw):
        raise required("line_items")
    return [_parse_one(world, org_id, item, order, billable) for order, item in enumerate(raw, start=1)]


def _parse_one(world: World, org_id: str, item: dict[str, Any], order: int, billable: bool) -> LineItem:
    name = str(item.get("name") or "").strip()
    item_id = str(item.get("item_id") or "")
    # ad-hoc lines (name + rate) are accepted in practice; the sandbox keeps no item catalogue
    if not name and not item_id:
        raise required("line_items.name")
    if len(name) > 100:
        raise invalid_value("line_items.name")
    line = LineItem(
        line_item_id=str(item.get("line_item_id") or world.books_id()),
        name=name,
        rate=parse_number(item.get("rate", 0), "line_items.rate"),
        quantity=parse_number(item.get("quantity", 1), "line_items.quantity"),
        description=str(item.get("description") or ""),
        item_id=item_id,
        unit=str(item.get("unit") or ""),
        item_order=int(parse_number(item.get("item_order", order), "line_items.item_order")),
    )
    project_id = str(item.get("project_id") or "")
    if project_id:
        project = world.books_projects.get(project_id)
        if project is None or project.organization_id != org_id:
            raise invalid_value("line_items.project_id")
        line.project_id = project_id
    time_entry_ids = item.get("time_entry_ids") or []
    expense_id = str(item.get("expense_id") or "")
    if (time_entry_ids or expense_id) and not billable:
        raise invalid_value("line_items.time_entry_ids" if time_entry_ids else "line_items.expense_id")
    if not isinstance(time_entry_ids, list) or not all(isinstance(i, str | int) for i in time_entry_ids):
        raise invalid_value("line_items.time_entry_ids")
    line.time_entry_ids = [str(i) for i in time_entry_ids]
    line.expense_id = expense_id
    return line


def sub_total(items: list[LineItem]) -> float:
    return money(sum(item.rate * item.quantity for item in items))


def render_line_items(world: World, items: list[LineItem]) -> list[dict[str, Any]]:
    return [
        {
            "line_item_id": item.line_item_id,
            "item_id": item.item_id,
            "project_id": item.project_id,
            "project_name": records.project_name(world, item.project_id),
            "time_entry_ids": list(item.time_entry_ids),
            "item_type": "service",
            "product_type": "service",
            "expense_id": item.expense_id,
            "name": item.name,
            "description": item.description,
            "item_order": item.item_order,
            "bcy_rate": item.rate,
            "rate": item.rate,
            "quantity": item.quantity,
            "unit": item.unit,
            "discount_amount": 0,
            "discount": 0,
            "item_total": money(item.rate * item.quantity),
        }
        for item in items
    ]
