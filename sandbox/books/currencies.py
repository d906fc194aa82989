"""``/settings/currencies``: the organization's currencies (contacts and projects point at their ids)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from sandbox.books import records
from sandbox.books.dispatch import BooksCall, endpoint
from sandbox.books.envelope import success
from sandbox.books.listing import ListSpec, page_of
from sandbox.world import Currency

LIST = ListSpec(
    report_name="Currencies",
    sort_keys={"currency_code": lambda c: c.currency_code},
    default_sort="currency_code",
    default_order="A",
    filters={"Currencies.ExcludeBaseCurrency": lambda c: not c.is_base_currency},
)


def render(currency: Currency) -> dict[str, Any]:
    return {
        "currency_id": currency.currency_id,
        "currency_code": currency.currency_code,
        "currency_name": currency.currency_name,
        "currency_symbol": currency.currency_symbol,
        "price_precision": 2,
        "currency_format": "1,234,567.89",
        "is_base_currency": currency.is_base_currency,
        "exchange_rate": currency.exchange_rate,
        "effective_date": "",
    }


def list_currencies(call: BooksCall) -> Response:
    rows = records.in_org(call.world.currencies, call.org_id)
    page, context = page_of(call.query, rows, LIST, lambda c: c.currency_id)
    return success(currencies=[render(c) for c in page], page_context=context)


def get_currency(call: BooksCall) -> Response:
    currency = records.find(call.world.currencies, call.path["currency_id"], call.org_id, "Currency")
    return success(currency=render(currency))


routes = [
    endpoint("/settings/currencies", get=list_currencies),
    endpoint("/settings/currencies/{currency_id}", get=get_currency),
]
