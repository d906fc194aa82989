"""Bugs (issues) of a project: list (``statustype``) and one bug."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from sandbox.projects import fields
from sandbox.projects.envelope import json, no_content, page_of, route
from sandbox.projects.scope import caller_in_portal

STATUS_TYPES = ("open", "closed", "all")  # the filter's name and values are inferred (reference §10)


async def list_bugs(request: Request) -> Response:
    caller = caller_in_portal(request)
    status = fields.choice("statustype", request.query_params.get("statustype") or "all", STATUS_TYPES)
    with caller.world.lock:
        project = caller.project(request.path_params["project"])
        found = [
            b
            for b in caller.world.bugs.where("project_id", project.id)
            if status == "all" or b.closed == (status == "closed")
        ]
        page = page_of(request, found)
        if not page:
            return no_content()
        return json({"bugs": [caller.view.bug(b) for b in page]})


async def get_bug(request: Request) -> Response:
    caller = caller_in_portal(request)
    with caller.world.lock:
        project = caller.project(request.path_params["project"])
        bug = caller.bug(project, request.path_params["bug"])
        return json({"bugs": [caller.view.bug(bug)]})


routes = [
    *route("/portal/{portal}/projects/{project}/bugs/", list_bugs, ["GET"]),
    *route("/portal/{portal}/projects/{project}/bugs/{bug}/", get_bug, ["GET"]),
]
