"""The projects a module reads under (tasks and bugs through ``PerParent``, timesheets' dated windows): those
linked, plus those with an open error, whose children are recorded as blocked by it."""

from __future__ import annotations

from worker.modules.base import SyncContext
from worker.modules.paging import parent_ids


def project_ids(ctx: SyncContext) -> list[str]:
    return parent_ids(ctx, "project")
