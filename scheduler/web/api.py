"""The JSON API under /api: the same answers as the pages, with the keys documented in README."""

from __future__ import annotations

from functools import partial

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scheduler.lifecycle import Change
from scheduler.status import (
    error_details,
    error_summary,
    get_error,
    integration_statuses,
    project_detail,
    project_summaries,
    sync_history,
)
from scheduler.status.listing import BadFilter, integration_page
from scheduler.web import actions
from scheduler.web.context import web_context
from scheduler.web.queries import BadRequest, error_id_param, integration_page_params, limit_param, module_param
from shared.db.integrations import get_integration


def integrations(request: Request) -> Response:
    params = integration_page_params(request, API_PAGE)
    try:
        page = integration_page(web_context(request).engine, **params)
    except BadFilter as exc:
        raise BadRequest(str(exc)) from exc
    return JSONResponse(page.as_json())


# integrations per answer unless ?limit= says otherwise (up to 1,000; next_offset pages on)
API_PAGE = 100


def integration(request: Request) -> Response:
    return JSONResponse(integration_statuses(web_context(request).engine, request.path_params["ref"])[0].as_json())


def history(request: Request) -> Response:
    engine = web_context(request).engine
    iid = get_integration(engine, request.path_params["ref"]).id
    entries = sync_history(
        engine, iid, module=module_param(request.query_params.get("module")), limit=limit_param(request, 50)
    )
    return JSONResponse({"history": [e.as_json() for e in entries]})


def errors(request: Request) -> Response:
    engine = web_context(request).engine
    iid = get_integration(engine, request.path_params["ref"]).id
    module = module_param(request.query_params.get("module"))
    return JSONResponse(
        {
            "summary": [g.as_json() for g in error_summary(engine, iid, module=module)],
            "details": [e.as_json() for e in error_details(engine, iid, module=module)],
        }
    )


def error(request: Request) -> Response:
    return JSONResponse(get_error(web_context(request).engine, error_id_param(request)).as_json())


def projects(request: Request) -> Response:
    engine = web_context(request).engine
    iid = get_integration(engine, request.path_params["ref"]).id
    return JSONResponse({"projects": [p.as_json() for p in project_summaries(engine, iid)]})


def project(request: Request) -> Response:
    engine = web_context(request).engine
    iid = get_integration(engine, request.path_params["ref"]).id
    return JSONResponse(project_detail(engine, iid, request.path_params["project_id"]).as_json())


async def refresh(request: Request) -> Response:
    body = await _json_body(request)
    module = body.get("module")
    if module is not None and not isinstance(module, str):
        raise BadRequest('"module" must be a module name string or null (all modules)')
    started = await run_in_threadpool(
        actions.refresh, web_context(request), request.path_params["ref"], module_param(module)
    )
    return JSONResponse(started.as_json(), 202)


def _change_json(change: Change, **fields: object) -> JSONResponse:
    integration = change.integration
    return JSONResponse(
        {
            "integration_id": integration.id,
            "integration": integration.name,
            "changed": change.changed,
            "detail": change.detail,
            **fields,
        }
    )


async def set_enabled(request: Request, enabled: bool) -> Response:
    change = await run_in_threadpool(actions.set_enabled, web_context(request), request.path_params["ref"], enabled)
    return _change_json(change, state=change.integration.state)


PREFERENCES = {
    "contact_duplication": ('"merge" or "clone"', lambda v: isinstance(v, str)),
    "general_timesheets": ("true or false", lambda v: isinstance(v, bool)),
    "sync_interval_hours": ("a number of hours", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
}


async def preferences(request: Request) -> Response:
    body = await _json_body(request)
    unknown = sorted(set(body) - set(PREFERENCES))
    if unknown:
        raise BadRequest(f"unknown preference {unknown[0]!r}; send any of: {', '.join(PREFERENCES)}")
    for key, (expected, valid) in PREFERENCES.items():
        if body.get(key) is not None and not valid(body[key]):
            raise BadRequest(f'"{key}" must be {expected}, got {body[key]!r}')
    change = await run_in_threadpool(
        # each value was checked against PREFERENCES above; mypy cannot tie a dict's keys to keyword types
        partial(actions.set_preferences, **{key: body.get(key) for key in PREFERENCES}),  # type: ignore[arg-type]
        web_context(request),
        request.path_params["ref"],
    )
    integration = change.integration
    cutoff = integration.timesheet_cutoff_date
    return _change_json(
        change,
        contact_duplication=integration.contact_duplication,
        general_timesheets=integration.general_timesheets,
        sync_interval_hours=integration.sync_interval_seconds / 3600,
        timesheet_cutoff_date=cutoff.isoformat() if cutoff else None,
    )


async def retry(request: Request) -> Response:
    error_id = error_id_param(request)
    body = await _json_body(request)
    unknown = sorted(set(body) - {"relink"})
    if unknown:
        raise BadRequest(f'unknown field {unknown[0]!r}; send {{}} or {{"relink": true}}')
    relink = body.get("relink", False)
    if not isinstance(relink, bool):
        raise BadRequest(f'"relink" must be true or false, got {relink!r}')
    started = await run_in_threadpool(partial(actions.retry_error, relink=relink), web_context(request), error_id)
    return JSONResponse({**started.as_json(), "relinked": relink}, 202)


async def _json_body(request: Request) -> dict[str, object]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except ValueError:  # orjson refuses deep nesting itself (json.loads recursed to the limit: a GC finalizer failed)
        raise BadRequest('the body must be JSON, e.g. {"module": "tasks"} or {} for all modules') from None
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object, e.g. {"module": "tasks"}')
    return body


ROUTES = [
    Route("/api/integrations", integrations),
    Route("/api/integrations/{ref}", integration),
    Route("/api/integrations/{ref}/history", history),
    Route("/api/integrations/{ref}/errors", errors),
    Route("/api/integrations/{ref}/projects", projects),
    Route("/api/integrations/{ref}/projects/{project_id}", project),
    Route("/api/integrations/{ref}/refresh", refresh, methods=["POST"]),
    Route("/api/integrations/{ref}/disable", partial(set_enabled, enabled=False), methods=["POST"]),
    Route("/api/integrations/{ref}/enable", partial(set_enabled, enabled=True), methods=["POST"]),
    Route("/api/integrations/{ref}/preferences", preferences, methods=["POST"]),
    Route("/api/errors/{error_id}", error),
    Route("/api/errors/{error_id}/retry", retry, methods=["POST"]),
]
