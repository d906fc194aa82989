"""Finding records inside the caller's organization, and the names Books denormalises into responses."""

from __future__ import annotations

from typing import Any, TypeVar

from sandbox.books.envelope import does_not_exist
from sandbox.world import BooksUser, Currency, World

T = TypeVar("T")


def find(table: dict[str, T], record_id: str, org_id: str, resource: str) -> T:
    """The record, or 404 ``"<resource> does not exist."`` (also for another organization's record)."""
    record = table.get(record_id)
    if record is None or getattr(record, "organization_id", None) != org_id:
        raise does_not_exist(resource)
    return record


def in_org(table: dict[str, T], org_id: str) -> list[T]:
    return [record for record in table.values() if getattr(record, "organization_id", None) == org_id]


def base_currency(world: World, org_id: str) -> Currency | None:
    return next((c for c in in_org(world.currencies, org_id) if c.is_base_currency), None)


def currency(world: World, org_id: str, currency_id: str) -> Currency | None:
    """The given currency, or the organization's base currency when none is set on the record."""
    found = world.currencies.get(currency_id) if currency_id else None
    return found or base_currency(world, org_id)


def currency_fields(world: World, org_id: str, currency_id: str) -> dict[str, Any]:
    found = currency(world, org_id, currency_id)
    return {
        "currency_id": found.currency_id if found else currency_id,
        "currency_code": found.currency_code if found else "",
    }


def contact_name(world: World, contact_id: str) -> str:
    contact = world.contacts.get(contact_id)
    return contact.contact_name if contact else ""


def project_name(world: World, project_id: str) -> str:
    project = world.books_projects.get(project_id)
    return project.project_name if project else ""


def caller_user(world: World, org_id: str, zuid: str | None) -> BooksUser | None:
    """The Books user behind the calling token, for ``is_current_user``."""
    if zuid is None:
        return None
    return next((u for u in in_org(world.books_users, org_id) if u.zuid == zuid), None)


def caller_user_id(world: World, org_id: str, zuid: str | None) -> str:
    user = caller_user(world, org_id, zuid)
    return user.user_id if user else ""


def find_or_none(table: dict[str, T], record_id: str, org_id: str) -> T | None:
    record = table.get(record_id)
    return record if record is not None and getattr(record, "organization_id", None) == org_id else None
