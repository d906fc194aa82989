"""Portal users and project users (``user_type`` active | inactive | all)."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response

from sandbox.projects import fields
from sandbox.projects.envelope import json, no_content, page_of, route
from sandbox.projects.scope import Caller, caller_in_portal
from sandbox.world import PortalUser

USER_TYPES = ("active", "inactive", "all")


def _listed(request: Request, caller: Caller, users: Iterable[PortalUser]) -> Response:
    user_type = fields.choice("user_type", request.query_params.get("user_type", "active"), USER_TYPES)
    wanted = [u for u in users if user_type == "all" or u.active == (user_type == "active")]
    page = page_of(request, wanted)
    if not page:
        return no_content()
    return json({"users": [caller.view.user(u) for u in page]})


async def portal_users(request: Request) -> Response:
    caller = caller_in_portal(request)
    with caller.world.lock:
        users = [u for (portal_id, _), u in caller.world.portal_users.items() if portal_id == caller.portal_id]
        return _listed(request, caller, users)


async def project_users(request: Request) -> Response:
    caller = caller_in_portal(request)
    with caller.world.lock:
        project = caller.project(request.path_params["project"])
        records = caller.world.portal_users
        users = [records[(caller.portal_id, z)] for z in project.user_ids if (caller.portal_id, z) in records]
        return _listed(request, caller, users)


routes = [
    *route("/portal/{portal}/users/", portal_users, ["GET"]),
    *route("/portal/{portal}/projects/{project}/users/", project_users, ["GET"]),
]
