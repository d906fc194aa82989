"""Who may see what: the portal a request addresses, the caller's role in it, and the records under it.

The platform middleware has already authenticated the token (``request.state.zuid``); these checks are
resource-level, as Zoho does them after auth.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from sandbox.projects.envelope import forbidden, not_found
from sandbox.projects.render import PortalView
from sandbox.world import Bug, Project, Task, TimeLog, World

# Portal roles that see every project of the portal; everyone else sees the projects they are a user of.
ROLES_SEEING_ALL_PROJECTS = frozenset({"admin"})
# Roles that may create/edit projects, log time for others and approve time logs (inferred from Zoho's
# default profiles: Administrator and Manager).
ROLES_MANAGING = frozenset({"admin", "manager"})


@dataclass
class Caller:
    world: World
    zuid: str
    view: PortalView

    @property
    def portal_id(self) -> str:
        return self.view.portal.id

    @property
    def role(self) -> str:
        return self.view.role

    @property
    def manages(self) -> bool:
        return self.role in ROLES_MANAGING

    def require_manager(self, action: str) -> None:
        if not self.manages:
            raise forbidden(f"Your role ({self.role}) does not allow you to {action}.")

    def sees(self, project: Project) -> bool:
        return self.role in ROLES_SEEING_ALL_PROJECTS or self.zuid in project.user_ids

    def project(self, project_id: str) -> Project:
        project = self.world.projects.get(project_id)
        # A project of another portal, or one the caller is not part of, is as good as absent.
        if project is None or project.portal_id != self.portal_id or not self.sees(project):
            raise not_found("Project")
        return project

    def task(self, project: Project, task_id: str) -> Task:
        task = self.world.tasks.get(task_id)
        if task is None or task.project_id != project.id:
            raise not_found("Task")
        return task

    def bug(self, project: Project, bug_id: str) -> Bug:
        bug = self.world.bugs.get(bug_id)
        if bug is None or bug.project_id != project.id:
            raise not_found("Bug")
        return bug

    def timelog(self, project: Project, log_id: str) -> TimeLog:
        log = self.world.timelogs.get(log_id)
        if log is None or log.project_id != project.id:
            raise not_found("Time log")
        return log


def caller_in_portal(request: Request) -> Caller:
    """The caller, inside the portal named by the ``{portal}`` path parameter."""
    world: World = request.app.state.world
    zuid: str = request.state.zuid
    portal = world.portals.get(request.path_params["portal"])
    if portal is None:
        raise not_found("Portal")
    if zuid not in portal.roles:
        raise forbidden("You do not have access to this portal.")
    return Caller(world, zuid, PortalView(world, portal, api_base(request), zuid))


def api_base(request: Request) -> str:
    """The ``/restapi`` root as the caller reached it, for ``link.*.url`` values."""
    return str(request.base_url).rstrip("/") + "/restapi"
