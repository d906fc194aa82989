"""Projects: list (status, modified-since, sort), one project, create and update (form-encoded POST)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from sandbox.projects import changes, fields
from sandbox.projects.envelope import invalid_param, json, no_content, page_of, params_of, route
from sandbox.projects.scope import caller_in_portal

SORT_COLUMNS = {"created_time": "created_ms", "last_modified_time": "updated_ms"}
SORT_ORDERS = ("ascending", "descending")
LIST_STATUSES = ("active", "archived", "template")
# (inferred) the body of a project delete, shaped like the documented time-log delete's
PROJECT_DELETED_MESSAGE = "Project Deleted Successfully."


async def list_projects(request: Request) -> Response:
    caller = caller_in_portal(request)
    query = request.query_params
    status = query.get("status")
    if status:
        fields.choice("status", status, LIST_STATUSES)
    since = (
        fields.long_value("last_modified_time", query["last_modified_time"])
        if query.get("last_modified_time")
        else None
    )
    column = fields.choice("sort_column", query.get("sort_column", "created_time"), SORT_COLUMNS)
    order = fields.choice("sort_order", query.get("sort_order", "ascending"), SORT_ORDERS)
    with caller.world.lock:
        found = [
            p
            for p in caller.world.projects.values()
            if p.portal_id == caller.portal_id
            and caller.sees(p)
            and (status is None or p.status == status)
            and (since is None or p.updated_ms > since)
        ]
        attr = SORT_COLUMNS[column]
        found.sort(key=lambda p: (getattr(p, attr), int(p.id)), reverse=order == "descending")
        page = page_of(request, found)
        if not page:
            return no_content()
        return json({"projects": [caller.view.project(p) for p in page]})


async def get_project(request: Request) -> Response:
    caller = caller_in_portal(request)
    with caller.world.lock:
        project = caller.project(request.path_params["project"])
        return json({"projects": [caller.view.project(project)]})


async def create_project(request: Request) -> Response:
    caller = caller_in_portal(request)
    params = await params_of(request)
    caller.require_manager("create projects")
    name = fields.required(params, "name")
    owner = params.get("owner", caller.zuid)
    if (caller.portal_id, owner) not in caller.world.portal_users:
        raise invalid_param("owner", owner, "a user of the portal")
    project = changes.create_project(
        caller.world,
        caller.portal_id,
        name,
        owner,
        description=params.get("description", ""),
        start_date=fields.optional_mdy(params, "start_date"),
        end_date=fields.optional_mdy(params, "end_date"),
    )
    request.app.state.emit("project.created", {"portal_id": caller.portal_id, "project_id": project.id})
    with caller.world.lock:
        return json({"projects": [caller.view.project(project)]}, status=201)


async def update_project(request: Request) -> Response:
    caller = caller_in_portal(request)
    params = await params_of(request)
    with caller.world.lock:
        project = caller.project(request.path_params["project"])
    caller.require_manager("edit projects")
    status = params.get("status")
    changes.update_project(
        caller.world,
        project,
        name=params.get("name"),
        description=params.get("description"),
        status=fields.choice("status", status, changes.PROJECT_STATUSES) if status else None,
        start_date=fields.optional_mdy(params, "start_date"),
        end_date=fields.optional_mdy(params, "end_date"),
    )
    request.app.state.emit("project.updated", {"portal_id": caller.portal_id, "project_id": project.id})
    with caller.world.lock:
        return json({"projects": [caller.view.project(project)]})


async def delete_project(request: Request) -> Response:
    caller = caller_in_portal(request)
    with caller.world.lock:
        project = caller.project(request.path_params["project"])
    caller.require_manager("delete projects")
    changes.delete_project(caller.world, project)
    request.app.state.emit("project.deleted", {"portal_id": caller.portal_id, "project_id": project.id})
    return json({"response": PROJECT_DELETED_MESSAGE})


routes = [
    *route("/portal/{portal}/projects/", list_projects, ["GET"]),
    *route("/portal/{portal}/projects/", create_project, ["POST"]),
    *route("/portal/{portal}/projects/{project}/", get_project, ["GET"]),
    *route("/portal/{portal}/projects/{project}/", update_project, ["POST"]),
    *route("/portal/{portal}/projects/{project}/", delete_project, ["DELETE"]),
]
