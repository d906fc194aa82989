"""The demo's Finance step (issue 14): money both ways, and nothing billed twice.

From the project side it invoices a project's unbilled time (as the Finance view's form does); in Books a person
records an expense for the same project and customer (through the sandbox, as in the Books UI). Both must show
in the project's Finance view, and a second invoice for the same items must be refused naming the first.
The expense travels as in production: the sandbox's Books sends its webhook to the web app, which pulls it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import requests
import sqlalchemy as sa
from celery import Celery
from rich.console import Console

from scheduler.books_webhooks import books_webhook_path
from scheduler.finance.create import Refused
from scheduler.finance.invoice import request_invoice
from scheduler.finance.render import text_lines
from scheduler.finance.view import finance_view
from scheduler.webhooks import webhook_token
from shared.config import Settings
from shared.db.integrations import Integration
from shared.db.schema import finance_requests, transactions

WAIT_SECONDS = 60.0


def _wait_for(what: str, check: Any, console: Console) -> bool:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    console.print(f"[red]{what}: not seen within {WAIT_SECONDS:g} s[/red]")
    return False


def finance_step(
    engine: sa.Engine,
    conf: Settings,
    app: Celery,
    sandbox: Any,
    integration: Integration,
    project_id: str,
    console: Console,
) -> bool:
    view = finance_view(engine, conf, integration.id, project_id)
    if not view.customer_id:
        console.print("[red]the project has no Books customer; nothing to invoice[/red]")
        return False
    hours = view.unbilled_hours
    console.print(f"unbilled time of {view.name!r}: {hours} h; invoicing it from the project side")
    request = request_invoice(engine, conf, app, integration.id, project_id, customer_id=view.customer_id)
    console.print(f"finance request #{request.id} (reference {request.reference}) sent to Zoho Books")

    def confirmed() -> bool:
        with engine.connect() as conn:
            state = conn.execute(sa.select(finance_requests.c.state).where(finance_requests.c.id == request.id))
            return state.scalar() == "confirmed"

    ok = _wait_for("the invoice confirmed by Books", confirmed, console)
    if ok:
        with engine.connect() as conn:
            number, total = invoice_total(conn, request.id)
        currency = view.currency_code or ""
        console.print(f"invoice {number} confirmed by Zoho Books: {hours} h, total {total:,.2f} {currency}".rstrip())
        if total <= 0:  # the project's time billed at no rate: the demo would show a worthless invoice
            console.print("[red]the invoice's total is 0.00: its time billed at no rate[/red]")
            ok = False
    try:
        again = request_invoice(engine, conf, app, integration.id, project_id, customer_id=view.customer_id)
        console.print(f"[red]a second invoice for the same items was accepted (request #{again.id})[/red]")
        refused = False
    except Refused as exc:
        console.print(f"a second invoice for the same items is refused: {exc}")
        refused = True

    with _web_app(conf, app) as base_url:
        token = webhook_token(engine, integration.id, rotate=True)
        assert token is not None
        hook = {"url": base_url + books_webhook_path(integration.id, token), "events": ["expense.*", "invoice.*"]}
        requests.post(f"{sandbox.base_url}/_sandbox/webhooks", json=hook, timeout=10).raise_for_status()
        console.print("Zoho Books' webhook points at the web app (`bpsync webhook-url` prints that URL)")
        expense = _books_expense(sandbox, integration.books_organization_id, view.books_project_id, view.customer_id)
        console.print(f"a person records an expense in Zoho Books for the project: {expense}")
        ok = (
            _wait_for(
                "the Books expense in the Finance view", lambda: _has_expense(engine, integration, expense), console
            )
            and ok
        )

    for line in text_lines(finance_view(engine, conf, integration.id, project_id)):
        console.print(line, highlight=False)
    return ok and refused


def invoice_total(conn: sa.Connection, request_id: int) -> tuple[str, float]:
    """(number, total) of a confirmed invoice request, as Books confirmed it (the transaction's total)."""
    row = conn.execute(
        sa.select(transactions.c.number, transactions.c.total)
        .join(finance_requests, finance_requests.c.books_id == transactions.c.books_id)
        .where(finance_requests.c.id == request_id, transactions.c.kind == "invoice")
    ).first()
    if row is None:
        return "?", 0.0
    return str(row.number or "?"), float(row.total or 0)


def _has_expense(engine: sa.Engine, integration: Integration, expense_id: str) -> bool:
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(transactions.c.id).where(
                transactions.c.integration_id == integration.id,
                transactions.c.kind == "expense",
                transactions.c.books_id == expense_id,
            )
        )
        return found.first() is not None


@contextmanager
def _web_app(conf: Settings, app: Celery) -> Iterator[str]:
    """The web app on a free local port while the step runs (the webhook receiver is part of it)."""
    import socket

    import uvicorn

    from scheduler.web.app import create_web_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_web_app(conf, celery=app), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="bpsync-demo-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


def _books_expense(sandbox: Any, organization_id: str, books_project_id: str, customer_id: str) -> str:
    body = {
        "action": "create_expense",
        "organization_id": organization_id,
        "account_id": "1",
        "paid_through_account_id": "2",
        "date": dt.date.fromtimestamp(sandbox.world.clock()).isoformat(),
        "amount": 42.5,
        "is_billable": True,
        "customer_id": customer_id,
        "project_id": books_project_id,
        "description": "Train tickets (the demo)",
    }
    response = requests.post(f"{sandbox.base_url}/_sandbox/act", json=body, timeout=10)
    if response.status_code != 200:
        raise click.ClickException(f"the sandbox refused the demo's Books expense: {response.text}")
    return str(response.json()["expense_id"])
