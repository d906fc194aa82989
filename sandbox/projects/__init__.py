"""Emulator of the classic Zoho Projects REST API, mounted by the sandbox app at ``/restapi``."""

from sandbox.projects import bugs, clients, mine, portals, projects, tasks, timelog_writes, timelogs, users
from sandbox.projects.envelope import unknown_path_route

_known = [
    *portals.routes,
    *projects.routes,
    *users.routes,
    *clients.routes,
    *tasks.routes,
    *bugs.routes,
    *timelogs.routes,
    *timelog_writes.routes,
    *mine.routes,
]
routes = [*_known, unknown_path_route(_known)]

__all__ = ["routes"]
