"""The admin API under ``/_sandbox/`` (not part of Zoho, no auth): used by tests, the demo and benchmarks.

    POST   reset        {"seed": 1, "size": "small"}   regenerate the world in place (config kept)
    GET    credentials                                 OAuth client, refresh tokens, org and portal ids, base_url
    GET    state                                       ground truth of both systems
    GET    requests / DELETE requests                  request counts per API, method, path template; 429s
    POST   journal / GET journal / DELETE journal      record every API request (POST starts empty, DELETE
                                                   stops; each answers what was recorded; sandbox/journal.py)
    GET    faults / POST faults / DELETE faults        fault injection (see sandbox/faults.py)
    POST   act          {"action": "log_time", ...}    act as a person would (registry in sandbox/acts.py)
    GET    webhooks / POST webhooks / DELETE webhooks  subscriptions {"url", "events"}, delivery attempts and
                                                   the last 1000 events emitted (subscribed or not)
    GET    config / POST config                        {"rate_limits": "fast", "token_ttl_seconds": 60,
                                                    "consent_zuid": "…"} (who consents on /oauth/v2/auth)
    POST   clock        {"advance_s": 3600}            move the sandbox clock forward (token expiry, windows)

Errors answer HTTP 400 ``{"error": "<what is wrong and how to fix it>"}``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox import limits
from sandbox.acts import ACTS, run_act
from sandbox.world import World

SIZES = ("tiny", "small", "large")


class AdminError(ValueError):
    pass


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise AdminError(f"the body must be a JSON object ({exc})") from None
    if not isinstance(data, dict):
        raise AdminError("the body must be a JSON object")
    return data


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


def _base_url(request: Request) -> str:
    return request.app.state.config.public_base_url or str(request.base_url).rstrip("/")


def replace_world(target: World, source: World) -> None:
    """Make ``target`` hold ``source``'s data, so everyone holding ``target`` sees the new world."""
    with target.lock:
        for f in dataclasses.fields(World):
            if f.name not in ("lock", "clock"):
                setattr(target, f.name, getattr(source, f.name))


# --------------------------------------------------------------------------------------------- world
async def reset(request: Request) -> JSONResponse:
    from sandbox import generator  # heavy and optional until the generator lands; only reset needs it

    try:
        body = await _json(request)
        seed, size = int(body.get("seed", 1)), str(body.get("size", "small"))
    except (AdminError, ValueError, TypeError) as exc:
        return _bad(f"{exc}; send {{'seed': int, 'size': 'tiny|small|large'}}")
    if size not in SIZES:
        return _bad(f"size must be one of {list(SIZES)}, got {size!r}")
    world: World = request.app.state.world
    fresh = await run_in_threadpool(generator.generate, seed, size, world.clock)
    replace_world(world, fresh)
    request.app.state.limiter.clear()  # quotas belong to orgs and users that no longer exist
    return JSONResponse({"seed": seed, "size": size})


async def credentials(request: Request) -> JSONResponse:
    from sandbox import generator

    creds = generator.credentials(request.app.state.world)
    return JSONResponse({**creds, "base_url": _base_url(request)})


async def state(request: Request) -> Response:
    data = await run_in_threadpool(request.app.state.world.state)
    return JSONResponse(data)


# --------------------------------------------------------------------------------------------- counts
async def requests_counts(request: Request) -> JSONResponse:
    counter = request.app.state.counter
    if request.method == "DELETE":
        counter.clear()
    return JSONResponse(counter.snapshot())


async def journal(request: Request) -> JSONResponse:
    book = request.app.state.journal
    if request.method == "POST":
        book.start()
    entries = await run_in_threadpool(book.entries)
    if request.method == "DELETE":  # answers what was recorded, so a benchmark stops and reads in one call
        book.stop()
    return JSONResponse({"recording": book.recording, "entries": entries})


# --------------------------------------------------------------------------------------------- faults
async def faults(request: Request) -> JSONResponse:
    book = request.app.state.faults
    now = request.app.state.world.clock()
    if request.method == "DELETE":
        book.clear()
    elif request.method == "POST":
        try:
            body = await _json(request)
            specs = body["faults"] if isinstance(body.get("faults"), list) else [body]
            added = [book.add(spec, now).to_json() for spec in specs]
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        return JSONResponse({"added": added, "faults": book.list(now)}, status_code=201)
    return JSONResponse({"faults": book.list(now)})


# --------------------------------------------------------------------------------------------- acts
async def act(request: Request) -> JSONResponse:
    try:
        params = await _json(request)
    except AdminError as exc:
        return _bad(str(exc))
    name = params.pop("action", None)
    if name not in ACTS:
        return _bad(f"unknown action {name!r}; known actions: {sorted(ACTS)}")
    try:
        result = await run_in_threadpool(run_act, name, request.app.state.world, params, request.app.state.emit)
    except (ValueError, KeyError) as exc:
        message = str(exc) if isinstance(exc, ValueError) else f"missing or unknown {exc}"
        return _bad(f"action {name!r}: {message}")
    request.app.state.emit(f"act.{name}", {"params": params, "result": result})
    return JSONResponse(result)


# --------------------------------------------------------------------------------------------- webhooks
async def webhooks(request: Request) -> JSONResponse:
    hub = request.app.state.webhooks
    if request.method == "DELETE":
        hub.clear()
    elif request.method == "POST":
        try:
            body = await _json(request)
            subscription = hub.subscribe(str(body.get("url", "")), body.get("events") or [])
        except ValueError as exc:
            return _bad(str(exc))
        return JSONResponse(subscription, status_code=201)
    return JSONResponse(
        {"subscriptions": hub.subscriptions(), "deliveries": hub.deliveries(), "emitted": hub.emitted()}
    )


# --------------------------------------------------------------------------------------------- config, clock
async def config(request: Request) -> JSONResponse:
    cfg = request.app.state.config
    if request.method == "POST":
        try:
            body = await _json(request)
            if "rate_limits" in body:
                cfg.rate_limits = limits.preset(str(body["rate_limits"]))
                request.app.state.limiter.clear()
            if "token_ttl_seconds" in body:
                cfg.token_ttl_seconds = int(body["token_ttl_seconds"])
            if "consent_zuid" in body:
                cfg.consent_zuid = str(body["consent_zuid"] or "") or None
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
    return JSONResponse(
        {
            "rate_limits": dataclasses.asdict(cfg.rate_limits),
            "token_ttl_seconds": cfg.token_ttl_seconds,
            "webhook_timeout_s": cfg.webhook_timeout_s,
            "consent_zuid": cfg.consent_zuid,
        }
    )


async def clock(request: Request) -> JSONResponse:
    world: World = request.app.state.world
    try:
        advance = float((await _json(request)).get("advance_s", 0))
    except (ValueError, TypeError) as exc:
        return _bad(f"{exc}; send {{'advance_s': seconds}}")
    if advance < 0:
        return _bad("the clock only moves forward (advance_s must be >= 0)")
    with world.lock:
        base = world.clock
        world.clock = lambda: base() + advance
    return JSONResponse({"now": world.clock()})


routes = [
    Route("/reset", reset, methods=["POST"]),
    Route("/credentials", credentials, methods=["GET"]),
    Route("/state", state, methods=["GET"]),
    Route("/requests", requests_counts, methods=["GET", "DELETE"]),
    Route("/journal", journal, methods=["GET", "POST", "DELETE"]),
    Route("/faults", faults, methods=["GET", "POST", "DELETE"]),
    Route("/act", act, methods=["POST"]),
    Route("/webhooks", webhooks, methods=["GET", "POST", "DELETE"]),
    Route("/config", config, methods=["GET", "POST"]),
    Route("/clock", clock, methods=["POST"]),
]
