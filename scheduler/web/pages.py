"""HTML pages: integrations, per-integration status with Refresh buttons, history, errors with Retry, projects."""

from __future__ import annotations

from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from scheduler.status import (
    error_details,
    error_summary,
    integration_statuses,
    project_detail,
    project_summaries,
    sync_history,
)
from scheduler.status.badges import LABELS, URGENCY
from scheduler.status.listing import BadFilter
from scheduler.status.listing import integration_page as listing_page
from scheduler.web import actions
from scheduler.web import migrate as migrate_pages
from scheduler.web.context import web_context
from scheduler.web.queries import BadRequest, error_id_param, integration_page_params, limit_param, module_param
from shared.db.integrations import get_integration
from shared.modules import MODULE_ORDER

POLL_MS = 2000
PAGE_SIZE = 50  # integrations per page of /integrations


def _render(request: Request, name: str, **context: object) -> Response:
    return web_context(request).templates.TemplateResponse(request, name, context)


STATE_NOTICES = {
    "disabled": "Disabled: no syncs, refreshes or webhook runs until it is enabled again; links and history are kept.",
    "active": "Enabled with the same portal; a sync is due now.",
}


def _notice(request: Request) -> str | None:
    run = request.query_params.get("requested", "")
    if run.isdigit():
        return f"Run #{run} requested; this page updates while it runs."
    if request.query_params.get("saved") == "preferences":
        return "Preferences saved; they steer the next syncs."
    migrated = request.query_params.get("migrated", "")
    if migrated.isdigit():
        return (
            f"Migrated from the legacy integration (run #{migrated}). Enable the integration: the sync it starts "
            "creates what the legacy integration never made and updates what it adopted."
        )
    if request.query_params.get("connected"):
        return "Connected. The first sync is due now; this page shows it as it runs."
    return STATE_NOTICES.get(request.query_params.get("state", ""))


def home(_request: Request) -> Response:
    return RedirectResponse("/integrations", 302)


def integrations_page(request: Request) -> Response:
    params = integration_page_params(request, PAGE_SIZE)
    try:
        page = listing_page(web_context(request).engine, **params)
    except BadFilter as exc:
        raise BadRequest(str(exc)) from exc
    return _render(
        request,
        "integrations.html",
        page=page,
        statuses=page.statuses,
        filters={k: v for k, v in params.items() if k in ("badge", "name") and v},
        labels=LABELS,
        urgency=URGENCY,
    )


def integration_page(request: Request) -> Response:
    engine = web_context(request).engine
    status = integration_statuses(engine, request.path_params["ref"])[0]
    iid = status.integration.id
    return _render(
        request,
        "integration.html",
        status=status,
        history=sync_history(engine, iid, limit=10),
        summary=error_summary(engine, iid),
        notice=_notice(request),
        poll_ms=POLL_MS,
    )


async def refresh(request: Request) -> Response:
    form = await request.form()
    module = module_param(str(form.get("module") or ""))
    started = await run_in_threadpool(actions.refresh, web_context(request), request.path_params["ref"], module)
    return RedirectResponse(f"/integrations/{started.integration_id}?requested={started.request.run_id}", 303)


async def set_enabled(request: Request, enabled: bool) -> Response:
    change = await run_in_threadpool(actions.set_enabled, web_context(request), request.path_params["ref"], enabled)
    return RedirectResponse(f"/integrations/{change.integration.id}?state={change.integration.state}", 303)


async def preferences(request: Request) -> Response:
    form = await request.form()
    raw_hours = str(form.get("sync_interval_hours") or "").strip()
    try:
        hours = float(raw_hours) if raw_hours else None
    except ValueError:
        raise BadRequest(f"the sync interval must be a number of hours, got {raw_hours!r}") from None
    change = await run_in_threadpool(
        partial(
            actions.set_preferences,
            contact_duplication=str(form.get("contact_duplication") or "") or None,
            general_timesheets=form.get("general_timesheets") == "on",  # an unticked box is not sent at all
            sync_interval_hours=hours,
        ),
        web_context(request),
        request.path_params["ref"],
    )
    return RedirectResponse(f"/integrations/{change.integration.id}?saved=preferences", 303)


def history_page(request: Request) -> Response:
    engine = web_context(request).engine
    integration = get_integration(engine, request.path_params["ref"])
    module = module_param(request.query_params.get("module"))
    limit = limit_param(request, 50)
    entries = sync_history(engine, integration.id, module=module, limit=limit)
    return _render(
        request,
        "history.html",
        integration=integration,
        entries=entries,
        module=module,
        limit=limit,
        modules=MODULE_ORDER,
    )


def errors_page(request: Request) -> Response:
    engine = web_context(request).engine
    integration = get_integration(engine, request.path_params["ref"])
    module = module_param(request.query_params.get("module"))
    return _render(
        request,
        "errors.html",
        integration=integration,
        module=module,
        modules=MODULE_ORDER,
        summary=error_summary(engine, integration.id, module=module),
        details=error_details(engine, integration.id, module=module),
        notice=_notice(request),
    )


async def retry(request: Request) -> Response:
    error_id = error_id_param(request)
    relink = (await request.form()).get("relink") == "1"
    started = await run_in_threadpool(partial(actions.retry_error, relink=relink), web_context(request), error_id)
    return RedirectResponse(f"/integrations/{started.integration_id}?requested={started.request.run_id}", 303)


def projects_page(request: Request) -> Response:
    engine = web_context(request).engine
    integration = get_integration(engine, request.path_params["ref"])
    return _render(
        request, "projects.html", integration=integration, projects=project_summaries(engine, integration.id)
    )


def project_page(request: Request) -> Response:
    engine = web_context(request).engine
    integration = get_integration(engine, request.path_params["ref"])
    detail = project_detail(engine, integration.id, request.path_params["project_id"])
    return _render(request, "project.html", integration=integration, detail=detail)


ROUTES = [
    Route("/", home),
    Route("/integrations", integrations_page),
    Route("/integrations/{ref}", integration_page),
    Route("/integrations/{ref}/refresh", refresh, methods=["POST"]),
    Route("/integrations/{ref}/disable", partial(set_enabled, enabled=False), methods=["POST"]),
    Route("/integrations/{ref}/enable", partial(set_enabled, enabled=True), methods=["POST"]),
    Route("/integrations/{ref}/preferences", preferences, methods=["POST"]),
    Route("/integrations/{ref}/history", history_page),
    Route("/integrations/{ref}/errors", errors_page),
    Route("/integrations/{ref}/projects", projects_page),
    Route("/integrations/{ref}/projects/{project_id}", project_page),
    Route("/errors/{error_id}/retry", retry, methods=["POST"]),
    *migrate_pages.ROUTES,
]
