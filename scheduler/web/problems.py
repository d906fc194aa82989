"""Errors as responses: what the admin asked for doesn't exist or can't be done -> one clear line.

/api gets ``{"error": "..."}``; pages get the same line on an error page. Status codes: 400 bad input,
404 unknown integration/error/project, 409 refused (e.g. disabled integration), 502 Zoho failed or is unreachable
(a route that reads Zoho while answering: customers, finance requests), 503 database not ready.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from scheduler.status import ProjectNotFound, SyncErrorNotFound
from scheduler.web.actions import ActionRefused
from scheduler.web.context import web_context
from scheduler.web.queries import BadRequest
from shared.db.engine import SchemaNotReady
from shared.db.integrations import IntegrationNotFound
from shared.modules import UnknownModule
from shared.zoho.errors import ZohoError

TITLES = {400: "Bad request", 404: "Not found", 409: "Can't do that now", 502: "Zoho did not answer", 503: "Not ready"}


def _respond(request: Request, status_code: int, message: str) -> Response:
    if request.url.path.startswith("/api") or request.url.path == "/metrics":
        return JSONResponse({"error": message}, status_code)
    return web_context(request).templates.TemplateResponse(
        request,
        "error.html",
        {"title": TITLES.get(status_code, "Error"), "message": message, "status_code": status_code},
        status_code=status_code,
    )


def _handler(status_code: int):
    async def handle(request: Request, exc: Exception) -> Response:
        message = exc.args[0] if exc.args else str(exc)
        if isinstance(exc, ActionRefused):
            return _respond(request, exc.status_code, exc.message)
        return _respond(request, status_code, str(message))

    return handle


EXCEPTION_HANDLERS = {
    BadRequest: _handler(400),
    UnknownModule: _handler(400),
    IntegrationNotFound: _handler(404),
    SyncErrorNotFound: _handler(404),
    ProjectNotFound: _handler(404),
    ActionRefused: _handler(409),
    ZohoError: _handler(502),
    SchemaNotReady: _handler(503),
}
