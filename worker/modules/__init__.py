"""One short declarative file per sync module; REGISTRY maps module names to them."""

from __future__ import annotations

from worker.modules.base import SyncModule
from worker.modules.bugs import BUGS
from worker.modules.clients import CLIENTS
from worker.modules.projects import PROJECTS
from worker.modules.tasks import TASKS
from worker.modules.timesheets import TIMESHEETS
from worker.modules.users import USERS

REGISTRY: dict[str, SyncModule] = {m.name: m for m in (USERS, CLIENTS, PROJECTS, TASKS, BUGS, TIMESHEETS)}
