"""The Finance view of a project (page and /api) and its create forms: invoice, quote, expense, recurring invoice.

Page: /integrations/{ref}/projects/{project}/finance (linked from the project page), its forms POST to
/integrations/{ref}/projects/{project}/finance/{kind}; a draft's customer picker POSTs to
/integrations/{ref}/finance/requests/{id}/customer. API: GET /api/integrations/{ref}/projects/{project}/finance,
POST /api/integrations/{ref}/projects/{project}/finance/{invoice|quote|expense|recurring_invoice} (JSON body,
answers 202 with the request), POST /api/integrations/{ref}/finance/requests/{id}/customer
``{"customer_id": ...}``, GET /api/integrations/{ref}/customers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from scheduler.finance import create, invoice
from scheduler.finance.pickers import pickers as form_pickers
from scheduler.finance.render import describe
from scheduler.finance.view import finance_view
from scheduler.web.actions import ActionRefused
from scheduler.web.context import WebContext, web_context
from scheduler.web.queries import BadRequest
from shared.db.integrations import get_integration

FIELDS: dict[str, tuple[str, ...]] = {
    "invoice": ("customer_id", "currency", "scope", "scope_id", "date", "due_date", "notes", "rate"),
    "quote": ("customer_id", "currency", "line_items", "date", "expiry_date", "notes"),
    "expense": ("customer_id", "currency", "amount", "date", "account_id", "paid_through_account_id", "description"),
    "recurring_invoice": (
        "customer_id",
        "currency",
        "name",
        "frequency",
        "repeat_every",
        "start_date",
        "end_date",
        "line_items",
    ),
}
REQUIRED = {
    "expense": ("amount", "account_id", "paid_through_account_id"),
    "quote": ("line_items",),
    "recurring_invoice": ("name", "frequency", "line_items"),
}


def _refusals(func: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except create.Refused as exc:
            raise ActionRefused(exc.message, exc.status_code) from None

    return call


def _create(ctx: WebContext, ref: str, project_id: str, kind: str, fields: dict[str, Any]) -> Any:
    if kind not in FIELDS:
        raise BadRequest(f"unknown kind {kind!r}; one of: {', '.join(FIELDS)}")
    unknown = sorted(set(fields) - set(FIELDS[kind]))
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r} for a {kind}; send any of: {', '.join(FIELDS[kind])}")
    for name in REQUIRED.get(kind, ()):
        if fields.get(name) in (None, "", []):
            raise BadRequest(f'"{name}" is required for a {kind}')
    args = (ctx.engine, ctx.settings, ctx.celery, ref, project_id)
    if kind == "invoice":
        return invoice.request_invoice(*args, **{k: v for k, v in fields.items()})
    if kind == "quote":
        return create.request_quote(*args, **fields)
    if kind == "expense":
        return create.request_expense(*args, **{"account_id": None, "paid_through_account_id": None, **fields})
    return create.request_recurring_invoice(*args, **fields)


def _notice_of(request: Any, ref: str) -> str:
    return describe(request, ref)


# ----------------------------------------------------------------------------------------------- API
async def api_view(request: Request) -> Response:
    ctx, p = web_context(request), request.path_params
    view = await run_in_threadpool(_refusals(finance_view), ctx.engine, ctx.settings, p["ref"], p["project_id"])
    return JSONResponse(view.as_json())


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except ValueError:  # orjson refuses deep nesting itself (json.loads recursed to the limit: a GC finalizer failed)
        raise BadRequest('the body must be JSON, e.g. {"customer_id": "460000000000127"}') from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


async def api_create(request: Request) -> Response:
    ctx, p = web_context(request), request.path_params
    body = await _body(request)
    made = await run_in_threadpool(_refusals(_create), ctx, p["ref"], p["project_id"], p["kind"], body)
    answer = made.as_json()
    if made.state == "draft":
        answer["next"] = (
            f"a draft: nothing is sent until it has a customer; POST /api/integrations/{p['ref']}/finance/requests/"
            f'{made.id}/customer with {{"customer_id": ...}} (GET /api/integrations/{p["ref"]}/customers lists them)'
        )
    return JSONResponse(answer, 202)


async def api_choose_customer(request: Request) -> Response:
    ctx, p = web_context(request), request.path_params
    body = await _body(request)
    made = await run_in_threadpool(
        _refusals(invoice.choose_customer),
        ctx.engine,
        ctx.settings,
        ctx.celery,
        p["ref"],
        _request_id(p["request_id"]),
        str(body.get("customer_id") or ""),
        currency=body.get("currency"),
    )
    return JSONResponse(made.as_json(), 202)


async def api_customers(request: Request) -> Response:
    ctx = web_context(request)
    integration = get_integration(ctx.engine, request.path_params["ref"])
    found = await run_in_threadpool(create.customers, ctx.settings, integration)
    rows = [{"customer_id": c.contact_id, "name": c.contact_name, "currency_code": c.currency_code} for c in found]
    return JSONResponse({"customers": rows})


def _request_id(raw: str) -> int:
    if not raw.isdigit():
        raise BadRequest(f"request id must be a number, got {raw!r}")
    return int(raw)


# ----------------------------------------------------------------------------------------------- pages
async def page(request: Request) -> Response:
    ctx, p = web_context(request), request.path_params
    view = await run_in_threadpool(_refusals(finance_view), ctx.engine, ctx.settings, p["ref"], p["project_id"])
    # customers (from Books) and the accounts expenses used: picked in the forms, ids typed only as a fallback
    choices = await run_in_threadpool(form_pickers, ctx.engine, ctx.settings, view.integration, view.currency_code)
    pickers: dict[int, list[Any]] = {d.id: choices.customers for d in view.drafts}
    return ctx.templates.TemplateResponse(
        request,
        "finance.html",
        {
            "view": view,
            "integration": view.integration,
            "choices": choices,
            "pickers": pickers,
            "notice": request.query_params.get("notice"),
            "kinds": list(FIELDS),
        },
    )


def _form_fields(kind: str, form: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in FIELDS.get(kind, ()):
        value = str(form.get(name) or "").strip()
        if not value:
            continue
        fields[name] = [ln.strip() for ln in value.splitlines() if ln.strip()] if name == "line_items" else value
    return fields


async def form_create(request: Request) -> Response:
    ctx, p = web_context(request), request.path_params
    fields = _form_fields(p["kind"], await request.form())
    made = await run_in_threadpool(_refusals(_create), ctx, p["ref"], p["project_id"], p["kind"], fields)
    return _back(made.integration_id, made.projects_project_id, _notice_of(made, p["ref"]))


async def form_choose_customer(request: Request) -> Response:
    ctx, p = web_context(request), request.path_params
    form = await request.form()
    made = await run_in_threadpool(
        _refusals(invoice.choose_customer),
        ctx.engine,
        ctx.settings,
        ctx.celery,
        p["ref"],
        _request_id(p["request_id"]),
        str(form.get("customer_id") or ""),
    )
    return _back(made.integration_id, made.projects_project_id, _notice_of(made, p["ref"]))


def _back(integration_id: int, project_id: str, notice: str) -> Response:
    url = f"/integrations/{integration_id}/projects/{project_id}/finance?notice={quote(notice)}"
    return RedirectResponse(url, 303)


ROUTES = [
    Route("/integrations/{ref}/projects/{project_id}/finance", page),
    Route("/integrations/{ref}/projects/{project_id}/finance/{kind}", form_create, methods=["POST"]),
    Route("/integrations/{ref}/finance/requests/{request_id}/customer", form_choose_customer, methods=["POST"]),
    Route("/api/integrations/{ref}/projects/{project_id}/finance", api_view),
    Route("/api/integrations/{ref}/projects/{project_id}/finance/{kind}", api_create, methods=["POST"]),
    Route("/api/integrations/{ref}/finance/requests/{request_id}/customer", api_choose_customer, methods=["POST"]),
    Route("/api/integrations/{ref}/customers", api_customers),
]
