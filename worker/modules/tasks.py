"""tasks: Projects tasks -> Books project tasks (a task whose project failed is blocked by that error)."""

from __future__ import annotations

from typing import Any

from shared.db import links
from shared.zoho.projects_models import Task
from worker.modules.base import Record, SyncContext, SyncModule, note_intent
from worker.modules.paging import PerParent


def _record(_ctx: SyncContext, item: tuple[str, Task]) -> Record:
    project_id, task = item
    return Record(task.id, task.name, {"name": task.name}, parent=("project", project_id), source=task)


def find_books_task(ctx: SyncContext, books_project_id: str | None, name: str | None) -> str | None:
    """After a crash between the POST and the link: the task we were creating, if Books has it.

    Projects allows two tasks of one name in a project, so a Books task already linked to another task or bug
    is never adopted — nor one this page linked a moment ago (its link waits for the page's checkpoint: after a
    crash, two same-name tasks of one page both come back pending with an intent).
    """
    if not name or not books_project_id:
        return None
    with ctx.engine.connect() as conn:
        taken = links.claimed_books_ids(conn, ctx.integration.id, "task") | links.claimed_books_ids(
            conn, ctx.integration.id, "bug"
        )
    taken |= ctx.page_books_ids
    for task in ctx.books.iter_project_tasks(books_project_id):
        if task.task_name == name and task.task_id not in taken:
            return task.task_id
    return None


def _find(ctx: SyncContext, _record: Record, link: Any, books_project_id: str | None) -> str | None:
    return find_books_task(ctx, books_project_id, link.attributes.get("books_name"))


def task_intent(record: Record) -> dict[str, Any]:
    """The Books name a retry looks the task up by (find_books_task)."""
    return {"books_name": record.fields["name"]}


def create_books_task(ctx: SyncContext, record: Record, books_project_id: str | None) -> str:
    assert books_project_id is not None
    note_intent(ctx, **task_intent(record))
    return ctx.books.create_project_task(books_project_id, {"task_name": record.fields["name"][:100]}).task_id


def update_books_task(ctx: SyncContext, record: Record, books_id: str, books_project_id: str | None) -> None:
    assert books_project_id is not None
    ctx.books.update_project_task(books_project_id, books_id, {"task_name": record.fields["name"][:100]})


TASKS = SyncModule(
    name="tasks",
    entity_type="task",
    paging=PerParent("project", lambda ctx, project_id, cursor: ctx.projects.tasks_page(project_id, cursor), "task"),
    to_record=_record,
    create=create_books_task,
    update=update_books_task,
    find_existing=_find,
    intent_first=True,  # create notes its intent before the POST
    intent=task_intent,  # find_existing only finds what an interrupted create posted
)
