"""Zoho Books v3 emulator: Starlette routes relative to ``/books/v3`` (mounted there by ``sandbox.app``).

Auth and rate limits are the platform middleware's job; these routes check ``organization_id`` (resource
level, as Zoho does) and speak Books' envelope. Behaviour the reference marks "(inferred)" is chosen in
``sandbox.books.rules``; the invoice/billing rules live in ``sandbox.books.billing``.
"""

from __future__ import annotations

from sandbox.books import (
    contacts,
    currencies,
    estimates,
    expenses,
    invoices,
    organizations,
    project_users,
    projects,
    recurring,
    tasks,
    timeentries,
    users,
)
from sandbox.books.dispatch import invalid_url_route

routes = [
    *organizations.routes,
    *users.routes,
    *currencies.routes,
    *contacts.routes,
    # before /projects/{project_id}: "timeentries" would otherwise match as a project id
    *timeentries.routes,
    *projects.routes,
    *project_users.routes,
    *tasks.routes,
    *invoices.routes,
    *estimates.routes,
    *expenses.routes,
    *recurring.routes,
    invalid_url_route(),
]

__all__ = ["routes"]
