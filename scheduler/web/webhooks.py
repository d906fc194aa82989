"""POST /webhooks/projects/{integration_id}?token=...: the receiver for Zoho Projects webhooks (scheduler.webhooks).

Outside the web token: Zoho cannot send it. The integration's own webhook token in the URL authorizes the call.
Answers are JSON: 202 with what happened (queued, or why nothing was), 400 bad body, 401 wrong token, 413 too big.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from celery import Celery
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scheduler.books_webhooks import authorize, receive_books_webhook
from scheduler.web.context import web_context
from scheduler.webhooks import Receipt, WebhookRejected, receive_projects_webhook

PREFIX = "/webhooks/"
MAX_BODY_BYTES = 64 * 1024


async def _receive(request: Request, handle: Callable[[Any, Celery, int, str, Any], Receipt]) -> Response:
    """Token first, then at most MAX_BODY_BYTES of JSON, then ``handle`` (in a thread): 202 with its receipt.

    The token is checked before the body is read: an unauthorized caller cannot make us read (or store) anything.
    """
    context = web_context(request)
    integration_id = request.path_params["integration_id"]
    token = request.query_params.get("token", "")
    try:
        await run_in_threadpool(authorize, context.engine, integration_id, token)
        raw = await _capped_body(request)
        if raw is None:
            raise WebhookRejected(413, f"body over {MAX_BODY_BYTES} bytes; send only event and payload")
        try:
            body = orjson.loads(raw or b"null")
        except ValueError as exc:  # orjson refuses deep nesting itself (json.loads recursed to the limit)
            raise WebhookRejected(400, f"the body is not JSON ({exc}); send Content-Type application/json") from None
        receipt = await run_in_threadpool(handle, context.engine, context.celery, integration_id, token, body)
    except WebhookRejected as exc:
        return JSONResponse({"error": exc.message}, exc.status)
    return JSONResponse(receipt.as_json(), 202)


async def _capped_body(request: Request) -> bytes | None:
    """The body, or None when it is over MAX_BODY_BYTES (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            return None
    return bytes(raw)


async def projects_webhook(request: Request) -> Response:
    """POST /webhooks/projects/{integration_id}?token=...: Zoho Projects time-log events (scheduler.webhooks)."""
    return await _receive(request, receive_projects_webhook)


async def books_webhook(request: Request) -> Response:
    """POST /webhooks/books/{integration_id}?token=...: Zoho Books transactions (scheduler.books_webhooks)."""
    return await _receive(
        request, lambda engine, celery, iid, _token, body: receive_books_webhook(engine, celery, iid, body)
    )


ROUTES = [
    Route("/webhooks/projects/{integration_id:int}", projects_webhook, methods=["POST"]),
    Route("/webhooks/books/{integration_id:int}", books_webhook, methods=["POST"]),
]
