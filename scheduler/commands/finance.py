"""Finance commands: a project's Finance view, and invoices, quotes, expenses and recurring invoices created
from the project side (``bpsync finance``, ``invoice``, ``invoice-customer``, ``customers``, ``quote``,
``expense``, ``recurring-invoice``).

A refusal is one line naming the bad option (exit 1); ``--wait`` waits for Books' answer (exit 1 when Books
refused it, 3 when it is still on its way: the worker keeps sending it).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import click

from scheduler.cli_support import emit_json, friendly_errors, settings

EXIT_REFUSED = 1
EXIT_PENDING = 3


@contextmanager
def _context() -> Iterator[tuple[Any, Any, Any]]:
    from scheduler.embedded import running_worker
    from shared.celery_app import create_celery
    from shared.db.engine import require_schema

    conf = settings()
    engine = require_schema(conf.database_url)
    app = create_celery(conf)
    # in embedded mode (memory:// broker) only a worker in this process can take the request
    with running_worker(app) if conf.embedded else nullcontext():
        yield conf, engine, app


def _refusing(func: Callable[[], Any]) -> Any:
    from scheduler.finance.create import Refused

    try:
        return func()
    except Refused as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(EXIT_REFUSED)


def _report(engine: Any, ref: str, request: Any, wait: bool, timeout: float, as_json: bool) -> None:
    from shared import finance_requests as requests_db

    if wait and request.state not in ("draft", *requests_db.FINAL_STATES):
        request = requests_db.wait(engine, request.id, timeout=timeout)
    if as_json:
        emit_json(request.as_json())
    else:
        from scheduler.finance.render import describe

        click.echo(describe(request, ref))
    if request.state in ("refused", "failed"):
        sys.exit(EXIT_REFUSED)
    if wait and request.state in requests_db.OPEN_STATES:
        sys.exit(EXIT_PENDING)


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.argument("integration_ref", metavar="INTEGRATION"),
            click.argument("project_id", metavar="PROJECT"),
            click.option("--customer", "customer_id", default=None, help="Books customer id."),
            click.option("--currency", default=None, help="Refuse unless the customer bills in this currency."),
            click.option("--wait", is_flag=True, help="Wait for Zoho Books' answer."),
            click.option("--timeout", default=60.0, show_default=True, help="Seconds --wait waits."),
            click.option("--json", "as_json", is_flag=True),
        ]
    ):
        func = option(func)
    return func


@click.command("finance")
@click.argument("integration_ref", metavar="INTEGRATION")
@click.argument("project_id", metavar="PROJECT")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def finance_command(integration_ref: str, project_id: str, as_json: bool) -> None:
    """PROJECT's Finance view: transactions, unbilled time and expenses, totals (PROJECT: Zoho Projects id)."""
    from scheduler.finance.view import finance_view
    from shared.db.engine import require_schema

    conf = settings()
    view = _refusing(lambda: finance_view(require_schema(conf.database_url), conf, integration_ref, project_id))
    if as_json:
        emit_json(view.as_json())
        return
    from scheduler.finance.render import text_lines

    for line in text_lines(view):
        click.echo(line)


@click.command("invoice")
@_common
@click.option("--task", default=None, help="Bill only this task's (or issue's) unbilled time (Projects id).")
@click.option("--milestone", default=None, help="Bill the unbilled time of the tasks under this milestone.")
@click.option("--tasklist", default=None, help="Bill the unbilled time of the tasks in this task list.")
@click.option("--date", default=None, help="Invoice date, YYYY-MM-DD (default: today in Books).")
@click.option("--due-date", default=None, help="YYYY-MM-DD.")
@click.option("--notes", default=None)
@click.option(
    "--rate", default=None, help="Hourly rate for time that Zoho Books gives no rate (else a 0.00 total is refused)."
)
@friendly_errors
def invoice_command(
    integration_ref: str,
    project_id: str,
    customer_id: str | None,
    currency: str | None,
    wait: bool,
    timeout: float,
    as_json: bool,
    task: str | None,
    milestone: str | None,
    tasklist: str | None,
    date: str | None,
    due_date: str | None,
    notes: str | None,
    rate: str | None,
) -> None:
    """Invoice PROJECT's unbilled time and its customer's project expenses (without --customer: a draft)."""
    from scheduler.finance.invoice import request_invoice

    scopes = [(s, v) for s, v in (("task", task), ("milestone", milestone), ("tasklist", tasklist)) if v]
    if len(scopes) > 1:
        click.echo("error: give at most one of --task, --milestone and --tasklist", err=True)
        sys.exit(EXIT_REFUSED)
    scope, scope_id = scopes[0] if scopes else ("project", None)
    with _context() as (conf, engine, app):
        request = _refusing(
            lambda: request_invoice(
                engine,
                conf,
                app,
                integration_ref,
                project_id,
                customer_id=customer_id,
                scope=scope,
                scope_id=scope_id,
                date=date,
                due_date=due_date,
                notes=notes,
                currency=currency,
                rate=rate,
            )
        )
        _report(engine, integration_ref, request, wait, timeout, as_json)


@click.command("invoice-customer")
@click.argument("integration_ref", metavar="INTEGRATION")
@click.argument("request_id", type=int, metavar="REQUEST")
@click.argument("customer_id", metavar="CUSTOMER")
@click.option("--currency", default=None, help="Refuse unless the customer bills in this currency.")
@click.option("--wait", is_flag=True, help="Wait for Zoho Books' answer.")
@click.option("--timeout", default=60.0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def invoice_customer_command(
    integration_ref: str,
    request_id: int,
    customer_id: str,
    currency: str | None,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Give draft invoice REQUEST its Books customer: it is claimed and sent to Books at once."""
    from scheduler.finance.invoice import choose_customer

    with _context() as (conf, engine, app):
        request = _refusing(
            lambda: choose_customer(engine, conf, app, integration_ref, request_id, customer_id, currency=currency)
        )
        _report(engine, integration_ref, request, wait, timeout, as_json)


@click.command("customers")
@click.argument("integration_ref", metavar="INTEGRATION")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def customers_command(integration_ref: str, as_json: bool) -> None:
    """The Zoho Books customers a draft invoice can be given (id, name, currency)."""
    from scheduler.finance.create import customers
    from shared.db.engine import require_schema
    from shared.db.integrations import get_integration

    conf = settings()
    found = customers(conf, get_integration(require_schema(conf.database_url), integration_ref))
    if as_json:
        rows = [{"customer_id": c.contact_id, "name": c.contact_name, "currency_code": c.currency_code} for c in found]
        emit_json({"customers": rows})
        return
    for c in found:
        click.echo(f"{c.contact_id}  {c.currency_code or '':4}  {c.contact_name}")


@click.command("quote")
@_common
@click.option("--line", "lines", multiple=True, required=True, help='"NAME:RATE[:QUANTITY]", repeatable.')
@click.option("--date", default=None, help="YYYY-MM-DD.")
@click.option("--expiry-date", default=None, help="YYYY-MM-DD.")
@click.option("--notes", default=None)
@friendly_errors
def quote_command(
    integration_ref: str,
    project_id: str,
    customer_id: str | None,
    currency: str | None,
    wait: bool,
    timeout: float,
    as_json: bool,
    lines: tuple[str, ...],
    date: str | None,
    expiry_date: str | None,
    notes: str | None,
) -> None:
    """A quote (Books estimate) for PROJECT, to the project's customer unless --customer says otherwise."""
    from scheduler.finance.create import request_quote

    with _context() as (conf, engine, app):
        request = _refusing(
            lambda: request_quote(
                engine,
                conf,
                app,
                integration_ref,
                project_id,
                line_items=list(lines),
                customer_id=customer_id,
                date=date,
                expiry_date=expiry_date,
                notes=notes,
                currency=currency,
            )
        )
        _report(engine, integration_ref, request, wait, timeout, as_json)


@click.command("expense")
@_common
@click.option("--amount", required=True, help="More than 0, in the customer's currency.")
@click.option("--date", default=None, help="YYYY-MM-DD (default: today).")
@click.option("--account", "account_id", required=True, help="Books expense account id.")
@click.option("--paid-through", "paid_through_account_id", required=True, help="Books account id it was paid from.")
@click.option("--description", default=None)
@friendly_errors
def expense_command(
    integration_ref: str,
    project_id: str,
    customer_id: str | None,
    currency: str | None,
    wait: bool,
    timeout: float,
    as_json: bool,
    amount: str,
    date: str | None,
    account_id: str,
    paid_through_account_id: str,
    description: str | None,
) -> None:
    """A billable expense of PROJECT (for the project's customer); it shows as unbilled until invoiced."""
    from scheduler.finance.create import request_expense

    with _context() as (conf, engine, app):
        request = _refusing(
            lambda: request_expense(
                engine,
                conf,
                app,
                integration_ref,
                project_id,
                amount=amount,
                date=date,
                account_id=account_id,
                paid_through_account_id=paid_through_account_id,
                description=description,
                customer_id=customer_id,
                currency=currency,
            )
        )
        _report(engine, integration_ref, request, wait, timeout, as_json)


@click.command("recurring-invoice")
@_common
@click.option("--name", required=True, help="The profile name (recurrence_name).")
@click.option("--frequency", required=True, type=click.Choice(["days", "weeks", "months", "years"]))
@click.option("--every", "repeat_every", default="1", show_default=True, help="Repeat every N frequency units.")
@click.option("--start-date", default=None, help="YYYY-MM-DD (default: today).")
@click.option("--end-date", default=None, help="YYYY-MM-DD (default: never).")
@click.option("--line", "lines", multiple=True, required=True, help='"NAME:RATE[:QUANTITY]", repeatable.')
@friendly_errors
def recurring_invoice_command(
    integration_ref: str,
    project_id: str,
    customer_id: str | None,
    currency: str | None,
    wait: bool,
    timeout: float,
    as_json: bool,
    name: str,
    frequency: str,
    repeat_every: str,
    start_date: str | None,
    end_date: str | None,
    lines: tuple[str, ...],
) -> None:
    """A recurring invoice for PROJECT: Books invoices its customer every N days/weeks/months/years."""
    from scheduler.finance.create import request_recurring_invoice

    with _context() as (conf, engine, app):
        request = _refusing(
            lambda: request_recurring_invoice(
                engine,
                conf,
                app,
                integration_ref,
                project_id,
                name=name,
                frequency=frequency,
                repeat_every=repeat_every,
                start_date=start_date,
                end_date=end_date,
                line_items=list(lines),
                customer_id=customer_id,
                currency=currency,
            )
        )
        _report(engine, integration_ref, request, wait, timeout, as_json)


COMMANDS = [
    finance_command,
    invoice_command,
    invoice_customer_command,
    customers_command,
    quote_command,
    expense_command,
    recurring_invoice_command,
]
