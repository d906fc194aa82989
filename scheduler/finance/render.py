"""The Finance view as text lines (``bpsync finance`` without ``--json``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scheduler.finance.view import FinanceView


def _money(value: float | None, currency: str | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}{' ' + currency if currency else ''}"


def text_lines(view: FinanceView) -> Iterator[str]:
    cur = view.currency_code
    customer = f", customer {view.customer_name} ({view.customer_id})" if view.customer_id else ""
    ids = f"Projects {view.projects_project_id}, Books {view.books_project_id}"
    yield f"{view.name or view.projects_project_id} ({ids}{customer})"
    yield ""
    yield f"Transactions ({len(view.transactions)}):"
    for t in view.transactions:
        date = t.date.isoformat() if t.date else "-"
        total = _money(float(t.total) if t.total is not None else None, t.currency_code or cur)
        name = t.number or t.books_id
        yield f"  {t.kind:17} {name:20} {date:10} {t.status or '':10} {total:>16}  {t.customer_name or ''}"
    open_requests = [r for r in view.requests if r.state != "confirmed"]
    if open_requests:
        yield f"Requests not confirmed ({len(open_requests)}):"
        for r in open_requests:
            why = f": {r.error}" if r.error else ""
            yield f"  #{r.id} {r.kind} {r.state} ({r.reference}){why}"
    yield ""
    if view.time is None:
        yield f"Unbilled time: unknown ({view.books_error})"
    else:
        yield (
            f"Unbilled time: {len(view.time)} entries, {view.unbilled_hours} h, "
            f"{_money(float(view.unbilled_time_amount or 0), cur)}"
        )
        for item in view.time:
            day = item.log_date.isoformat() if item.log_date else "-"
            yield f"  {day} {item.task_name or item.task_id:30} {item.hours:>6} h  {_money(float(item.amount), cur)}"
    if view.invoiced_tasks:
        yield f"Completed tasks invoiced ({len(view.invoiced_tasks)}; never invoiced again):"
        for task in view.invoiced_tasks_json():
            yield f"  {task['task_name'] or task['task_id']:30} {task['held_by']}"
    yield f"Unbilled expenses: {len(view.expenses)}, {_money(float(view.unbilled_expenses_amount), cur)}"
    for e in view.expenses:
        day = e.date.isoformat() if e.date else "-"
        yield f"  {day} {e.description or e.expense_id:30} {_money(float(e.amount), cur)}"
    yield ""
    totals = view.totals
    yield (
        f"Totals: invoiced {_money(totals['invoiced'], cur)}, outstanding {_money(totals['outstanding'], cur)}, "
        f"quoted {_money(totals['quoted'], cur)}, unbilled {_money(totals['unbilled'], cur)}"
    )


def describe(request: Any, ref: str) -> str:
    kind = request.kind.replace("_", " ")
    if request.state == "draft":
        return (
            f"draft {kind} #{request.id} ({request.reference}) waits for its customer: nothing is sent to Zoho Books "
            f"until you pick one with `bpsync invoice-customer {ref} {request.id} CUSTOMER_ID` "
            f"(list them with `bpsync customers {ref}`)"
        )
    if request.state == "confirmed":
        return f"{kind} {request.number or request.books_id} created in Zoho Books (reference {request.reference})"
    if request.state in ("refused", "failed"):
        return f"{kind} #{request.id} {request.state}: {request.error}"
    total = request.payload.get("total")
    amount = f", total {total:.2f}" if isinstance(total, int | float) else ""
    return f"{kind} #{request.id} queued for Zoho Books (reference {request.reference}{amount})"
