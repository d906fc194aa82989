"""What the Finance page's forms offer to pick from, instead of ids typed by hand.

- Customers: the Books customers (read from Books when the page is drawn). When Books cannot be read the page
  says why and the forms take a customer id as text.
- Expense accounts and paid-through accounts: the Books API reference we build on documents no chart-of-accounts
  list (reference §14 only names ``account_id`` and ``paid_through_account_id`` on an expense), so the page offers
  the accounts this organization's expenses already used — expenses read from Books (their ``account_id`` and
  name) and expenses recorded here — and still takes any other id as text. Ours: nothing is guessed; an id the
  list does not have is passed to Books, which refuses an unknown account.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from scheduler.finance.create import customers
from shared.config import Settings
from shared.db.integrations import Integration
from shared.db.schema import finance_requests, transactions
from shared.zoho.books_models import Contact
from shared.zoho.errors import ZohoError


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str  # "" when only the id is known (an account given by id on an expense recorded here)


@dataclass
class Pickers:
    customers: list[Contact]
    customers_error: str | None  # why the customers are not offered (Books could not be read)
    expense_accounts: list[Account]
    paid_through_accounts: list[Account]


def _accounts(found: dict[str, str]) -> list[Account]:
    return sorted((Account(i, n) for i, n in found.items()), key=lambda a: (a.name.lower() or "~", a.account_id))


def accounts_used(conn: sa.Connection, integration_id: int) -> tuple[list[Account], list[Account]]:
    """(expense accounts, paid-through accounts) the integration's expenses used, newest names winning."""
    expense: dict[str, str] = {}
    paid: dict[str, str] = {}
    rows = conn.execute(
        sa.select(transactions.c.payload)
        .where(transactions.c.integration_id == integration_id, transactions.c.kind == "expense")
        .order_by(transactions.c.id)
    )
    for (payload,) in rows:
        body = payload if isinstance(payload, dict) else {}
        if body.get("account_id"):
            expense[str(body["account_id"])] = str(body.get("account_name") or "")
        if body.get("paid_through_account_id"):
            paid[str(body["paid_through_account_id"])] = str(body.get("paid_through_account_name") or "")
    asked = conn.execute(
        sa.select(finance_requests.c.payload).where(
            finance_requests.c.integration_id == integration_id, finance_requests.c.kind == "expense"
        )
    )
    for (payload,) in asked:
        body = payload if isinstance(payload, dict) else {}
        if body.get("account_id"):
            expense.setdefault(str(body["account_id"]), "")
        if body.get("paid_through_account_id"):
            paid.setdefault(str(body["paid_through_account_id"]), "")
    return _accounts(expense), _accounts(paid)


def pickers(engine: sa.Engine, settings: Settings, integration: Integration, currency: str | None) -> Pickers:
    """The page's choices; Books' customers in the project's currency (a customer in another would be refused)."""
    error = None
    found: list[Contact] = []
    try:
        found = [c for c in customers(settings, integration) if not currency or c.currency_code in ("", currency)]
    except ZohoError as exc:
        error = f"the Zoho Books customers could not be read ({exc}): type a customer id, or reload the page"
    with engine.connect() as conn:
        expense, paid = accounts_used(conn, integration.id)
    return Pickers(found, error, expense, paid)
