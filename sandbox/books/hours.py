"""Hours and amounts Books derives from time entries (``total_hours``, ``billed_hours``, ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sandbox.books.formats import hhmm, money
from sandbox.world import BooksProject, TimeEntry, World


@dataclass
class Tally:
    total: int = 0
    billable: int = 0
    billed: int = 0
    unbilled: int = 0
    non_billable: int = 0
    billable_amount: float = 0.0
    billed_amount: float = 0.0

    def add(self, entry: TimeEntry, rate: float) -> None:
        self.total += entry.minutes
        if not entry.is_billable:
            self.non_billable += entry.minutes
            return
        amount = rate * entry.minutes / 60
        self.billable += entry.minutes
        self.billable_amount += amount
        if entry.billed_status == "invoiced":
            self.billed += entry.minutes
            self.billed_amount += amount
        else:
            self.unbilled += entry.minutes

    def fields(self) -> dict[str, object]:
        return {
            "total_hours": hhmm(self.total),
            "billable_hours": hhmm(self.billable),
            "billed_hours": hhmm(self.billed),
            "un_billed_hours": hhmm(self.unbilled),
            "non_billable_hours": hhmm(self.non_billable),
        }

    def amounts(self) -> dict[str, float]:
        return {
            "total_amount": money(self.billable_amount),
            "billable_amount": money(self.billable_amount),
            "billed_amount": money(self.billed_amount),
            "un_billed_amount": money(self.billable_amount - self.billed_amount),
            "non_billable_amount": 0.0,
        }


def hourly_rate(world: World, project: BooksProject, entry: TimeEntry) -> float:
    """The rate Books bills an entry at, by the project's billing type (fixed cost bills no hours)."""
    if project.billing_type == "based_on_project_hours":
        return project.rate
    if project.billing_type == "based_on_task_hours":
        task = world.books_tasks.get(entry.task_id)
        return task.rate if task else 0.0
    if project.billing_type == "based_on_staff_hours":
        user = next((u for u in project.users if u.user_id == entry.user_id), None)
        return user.rate if user else 0.0
    return 0.0


def tally_by(world: World, entries: Iterable[TimeEntry], key: Callable[[TimeEntry], str]) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    for entry in entries:
        project = world.books_projects.get(entry.project_id)
        rate = hourly_rate(world, project, entry) if project else 0.0
        tallies.setdefault(key(entry), Tally()).add(entry, rate)
    return tallies
