"""Time logs of a generated world: a fixed opening of awkward logs, then random ones over ~6 months."""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING

from sandbox import names
from sandbox.seed_projects import LOG_HISTORY_DAYS, MINUTE_CHOICES, Cast, awkward
from sandbox.world import Bug, Project, Task, TimeLog, World

if TYPE_CHECKING:
    from sandbox.generator import Preset

APPROVALS = ("Approved", "Pending", "Rejected")
APPROVAL_WEIGHTS = (75, 17, 8)


class LogWriter:
    def __init__(self, world: World, rng: random.Random, cast: Cast, now: int) -> None:
        self.world, self.rng, self.cast, self.now = world, rng, cast, now
        self.today = dt.datetime.fromtimestamp(now / 1000, tz=dt.UTC).date()
        self.approver = cast.admin

    def add(
        self,
        project: Project,
        owner: str,
        *,
        task: Task | None = None,
        bug: Bug | None = None,
        approval: str = "Approved",
        bill_status: str = "Billable",
        days_ago: int | None = None,
    ) -> TimeLog:
        rng = self.rng
        log_date = self.today - dt.timedelta(days=rng.randint(0, LOG_HISTORY_DAYS) if days_ago is None else days_ago)
        midnight = int(dt.datetime.combine(log_date, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)
        created = min(self.now, midnight + rng.randint(8, 20) * 3_600_000)
        component = "task" if task else "bug" if bug else "general"
        log = TimeLog(
            id=self.world.projects_id(),
            project_id=project.id,
            component=component,
            owner_id=owner,
            log_date=log_date,
            minutes=rng.choice(MINUTE_CHOICES),
            bill_status=bill_status,
            approval_status=approval,
            approver_id=None if approval == "Pending" else self.approver,
            task_id=task.id if task else None,
            bug_id=bug.id if bug else None,
            name=rng.choice(names.GENERAL_LOG_NAMES) if component == "general" else "",
            created_ms=created,
            modified_ms=created,
        )
        self.world.timelogs[log.id] = log
        self._record(log)
        return log

    def _record(self, log: TimeLog) -> None:
        world = self.world
        if log.approval_status != "Approved":
            awkward(world, "unapproved_logs", log.id)
        if log.bill_status == "Non Billable":
            awkward(world, "non_billable_logs", log.id)
        if log.component == "general":
            awkward(world, "general_logs", log.id)
        if log.component == "bug":
            awkward(world, "bug_logs", log.id)
        if log.owner_id not in self.cast.in_books:
            awkward(world, "logs_of_users_missing_in_books", log.id)


def seed_timelogs(
    world: World,
    rng: random.Random,
    preset: Preset,
    cast: Cast,
    projects: list[Project],
    tasks_of: dict[str, list[Task]],
    bugs_of: dict[str, list[Bug]],
    now: int,
) -> None:
    writer = LogWriter(world, rng, cast, now)
    first = projects[0]
    task0, bug0 = tasks_of[first.id][0], bugs_of[first.id][0]
    missing = next(z for z in cast.users if z not in cast.in_books and z in first.user_ids)
    inactive = next(z for z in first.user_ids if z in cast.inactive)
    opening = [
        writer.add(first, cast.admin, days_ago=1),  # general log
        writer.add(first, cast.non_admin, bug=bug0, days_ago=2),
        writer.add(first, cast.non_admin, task=task0, approval="Pending", days_ago=3),
        writer.add(first, cast.non_admin, task=task0, approval="Rejected", days_ago=4),
        writer.add(first, cast.admin, task=task0, bill_status="Non Billable", days_ago=5),
        writer.add(first, missing, task=task0, days_ago=6),
        writer.add(first, inactive, task=task0, days_ago=40),
        writer.add(projects[1], cast.admin, task=tasks_of[projects[1].id][0], days_ago=7),
        writer.add(projects[2], cast.admin, task=tasks_of[projects[2].id][0], days_ago=8),
    ]
    for _ in range(preset.logs - len(opening)):
        _random_log(writer, rng, projects, tasks_of, bugs_of)
    with_logs = {log.bug_id for log in world.timelogs.values() if log.bug_id}
    world.awkward["bugs_with_logs"] = sorted(with_logs)


def _random_log(
    writer: LogWriter,
    rng: random.Random,
    projects: list[Project],
    tasks_of: dict[str, list[Task]],
    bugs_of: dict[str, list[Bug]],
) -> None:
    project = rng.choice(projects)
    owner = rng.choice(project.user_ids)
    roll = rng.random()
    task = bug = None
    if roll < 0.85:
        task = rng.choice(tasks_of[project.id])
    elif roll < 0.92 and bugs_of[project.id]:
        bug = rng.choice(bugs_of[project.id])
    non_billable = (task is not None and task.billingtype == "Non Billable") or rng.random() < 0.12
    approval = rng.choices(APPROVALS, APPROVAL_WEIGHTS)[0]
    writer.add(
        project,
        owner,
        task=task,
        bug=bug,
        approval=approval,
        bill_status="Non Billable" if non_billable else "Billable",
    )
