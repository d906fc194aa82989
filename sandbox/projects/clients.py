"""Client companies: the portal's, and a project's (with the primary-client flag, see render.PRIMARY_CLIENT_FLAG)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from sandbox.projects import changes, fields
from sandbox.projects.envelope import json, no_content, page_of, params_of, route
from sandbox.projects.scope import caller_in_portal


async def portal_clients(request: Request) -> Response:
    caller = caller_in_portal(request)
    with caller.world.lock:
        clients = [c for c in caller.world.clients.values() if c.portal_id == caller.portal_id]
        page = page_of(request, clients)
        if not page:
            return no_content()
        return json({"clients": [caller.view.client(c) for c in page]})


async def project_clients(request: Request) -> Response:
    caller = caller_in_portal(request)
    with caller.world.lock:
        project = caller.project(request.path_params["project"])
        clients = [caller.world.clients[c] for c in project.client_ids if c in caller.world.clients]
        page = page_of(request, clients)
        if not page:
            return no_content()
        return json({"clients": [caller.view.client(c, project) for c in page]})


async def add_client(request: Request) -> Response:
    caller = caller_in_portal(request)
    params = await params_of(request)
    caller.require_manager("add client companies")
    client = changes.create_client(
        caller.world,
        caller.portal_id,
        fields.required(params, "name"),
        email=params.get("email", ""),
        currency_code=params.get("currency_code", "USD"),
    )
    request.app.state.emit("client.created", {"portal_id": caller.portal_id, "client_id": client.id})
    with caller.world.lock:
        return json({"clients": [caller.view.client(client)]}, status=201)


routes = [
    *route("/portal/{portal}/clients/", portal_clients, ["GET"]),
    *route("/portal/{portal}/clients/", add_client, ["POST"]),
    *route("/portal/{portal}/projects/{project}/clients/", project_clients, ["GET"]),
]
