"""Emulator of the classic Zoho Projects REST API, mounted by the sandbox app at ``/restapi``."""

from sandbox.projects import bugs, clients, portals, projects, tasks, timelog_writes, timelogs, users

routes = [
    *portals.routes,
    *projects.routes,
    *users.routes,
    *clients.routes,
    *tasks.routes,
    *bugs.routes,
    *timelogs.routes,
    *timelog_writes.routes,
]

__all__ = ["routes"]
