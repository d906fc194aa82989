"""The web's migration from Zoho's legacy integration (``bpsync migrate`` behind a confirmation).

``GET /integrations/{ref}/migrate`` runs the dry run and shows what would be adopted, created and skipped, each
with its reason; the button under it posts ``POST /integrations/{ref}/migrate`` with the ``confirm`` box ticked,
which plans again and records the migration (one way, once). Both read Zoho while answering (a Zoho failure is
a 502 like the other such routes); the confirmation is the box, not only the browser's dialog, so a stray POST
without it writes nothing.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from scheduler.migrate import MigrateRefused, migrate
from scheduler.migrate.record import refusal
from scheduler.web.actions import ActionRefused
from scheduler.web.context import web_context
from scheduler.web.queries import BadRequest
from shared.db.integrations import get_integration

CONFIRM_FIELD = "confirm"


async def migrate_page(request: Request) -> Response:
    ctx = web_context(request)
    integration = get_integration(ctx.engine, request.path_params["ref"])
    with ctx.engine.connect() as conn:
        done = refusal(conn, integration.id, writing=False)
        blocked = refusal(conn, integration.id, writing=True)
    report = None
    if done is None:
        report = await run_in_threadpool(migrate, ctx.engine, ctx.settings, integration.id, dry_run=True)
    return ctx.templates.TemplateResponse(
        request,
        "migrate.html",
        {"integration": integration, "report": report, "done": done, "blocked": blocked},
    )


async def migrate_post(request: Request) -> Response:
    ctx = web_context(request)
    integration = get_integration(ctx.engine, request.path_params["ref"])
    form = await request.form()
    if form.get(CONFIRM_FIELD) != "yes":
        raise BadRequest("tick 'I understand the migration is one way' to migrate; nothing was written")
    try:
        report = await run_in_threadpool(migrate, ctx.engine, ctx.settings, integration.id, dry_run=False)
    except MigrateRefused as exc:
        raise ActionRefused(str(exc)) from None
    return RedirectResponse(f"/integrations/{integration.id}?migrated={report.run_id}", 303)


ROUTES = [
    Route("/integrations/{ref}/migrate", migrate_page),
    Route("/integrations/{ref}/migrate", migrate_post, methods=["POST"]),
]
