"""bugs: Projects bugs (issues) -> Books project tasks, so time logged on a bug can be billed."""

from __future__ import annotations

from typing import Any

from shared.zoho.projects_models import Bug
from worker.modules.base import Record, SyncContext, SyncModule
from worker.modules.paging import PerParent
from worker.modules.tasks import create_books_task, find_books_task, task_intent, update_books_task


def _record(_ctx: SyncContext, item: tuple[str, Bug]) -> Record:
    project_id, bug = item
    name = f"{bug.key}: {bug.title}" if bug.key else bug.title
    return Record(bug.id, bug.title, {"name": name}, parent=("project", project_id), source=bug)


def _find(ctx: SyncContext, _record: Record, link: Any, books_project_id: str | None) -> str | None:
    return find_books_task(ctx, books_project_id, link.attributes.get("books_name"))


BUGS = SyncModule(
    name="bugs",
    entity_type="bug",
    paging=PerParent("project", lambda ctx, project_id, cursor: ctx.projects.bugs_page(project_id, cursor), "bug"),
    to_record=_record,
    create=create_books_task,
    update=update_books_task,
    find_existing=_find,
    intent_first=True,  # create notes its intent before the POST
    intent=task_intent,  # find_existing only finds what an interrupted create posted
)
