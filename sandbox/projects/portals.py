"""``GET /portals/`` and ``GET /portal/{portal}/``: the portals where the caller holds a role."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from sandbox.projects.envelope import json, route
from sandbox.projects.render import PortalView
from sandbox.projects.scope import api_base, caller_in_portal
from sandbox.world import World


async def list_portals(request: Request) -> Response:
    world: World = request.app.state.world
    zuid: str = request.state.zuid
    with world.lock:
        mine = [p for p in world.portals.values() if zuid in p.roles]
        # The portal the user owns is their default; otherwise the first one they joined.
        default_id = next((p.id for p in mine if p.owner_zuid == zuid), mine[0].id if mine else None)
        portals = [
            PortalView(world, p, api_base(request), zuid).portal_summary(default=p.id == default_id) for p in mine
        ]
    return json({"login_id": zuid, "portals": portals})


async def get_portal(request: Request) -> Response:
    caller = caller_in_portal(request)
    with caller.world.lock:
        summary = caller.view.portal_summary(default=caller.view.portal.owner_zuid == caller.zuid)
    return json({"portals": [summary]})


routes = [
    *route("/portals/", list_portals, ["GET"]),
    *route("/portal/{portal}/", get_portal, ["GET"]),
]
