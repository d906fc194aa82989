"""IndexedTable: ``where`` must always equal a full scan in table order, whatever the mutations."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import pickle
import random
from dataclasses import dataclass

import pytest

from sandbox.generator import generate
from sandbox.indexes import IndexedTable
from sandbox.projects import timesheet
from sandbox.world import TimeEntry


@dataclass
class Rec:
    project_id: str
    task_id: str | None = None


def _scan(table: dict[str, Rec], attr: str, value: str) -> list[Rec]:
    return [r for r in table.values() if getattr(r, attr) == value]


def _agrees(table: IndexedTable[Rec]) -> None:
    table.check()
    for value in ("p0", "p1", "p2", "p3", "t0", "t1", "nope"):
        for attr in ("project_id", "task_id"):
            assert table.where(attr, value) == _scan(table, attr, value)
            assert table.count_where(attr, value) == len(_scan(table, attr, value))


@pytest.mark.parametrize("read_first", [False, True])
def test_random_mutations_match_a_full_scan(read_first: bool) -> None:
    rng = random.Random(5)
    table: IndexedTable[Rec] = IndexedTable("project_id", "task_id")
    if read_first:  # index built while empty, then maintained on every write
        assert table.where("project_id", "p0") == []
    for step in range(3000):
        key = str(rng.randrange(200))
        op = rng.random()
        record = Rec(f"p{rng.randrange(4)}", rng.choice([None, "t0", "t1"]))
        if op < 0.5:
            table[key] = record  # new key, or a replacement that may move it to another project
        elif op < 0.65:
            table.pop(key, None)
        elif op < 0.75 and key in table:
            del table[key]
        elif op < 0.8 and table:
            table.popitem()
        elif op < 0.85:
            table.setdefault(key, record)
        elif op < 0.9:
            table.update({key: record, str(rng.randrange(200)): Rec("p1")})
        elif op < 0.905:
            table.clear()
        if step % 97 == 0:
            _agrees(table)
    _agrees(table)


def test_replacement_into_another_project_keeps_table_order() -> None:
    table: IndexedTable[Rec] = IndexedTable("project_id")
    for key, project in (("a", "p1"), ("b", "p2"), ("c", "p2"), ("d", "p1")):
        table[key] = Rec(project)
    assert [r.project_id for r in table.where("project_id", "p2")] == ["p2", "p2"]
    table["a"] = Rec("p2")  # "a" stays first in the table, so first in p2's list too
    assert table.where("project_id", "p2") == [table["a"], table["b"], table["c"]]
    assert table.where("project_id", "p1") == [table["d"]]
    table.check()


def test_copies_and_pickles_carry_their_own_index() -> None:
    table: IndexedTable[Rec] = IndexedTable("project_id")
    table["a"], table["b"] = Rec("p1"), Rec("p2")
    table.where("project_id", "p1")
    for clone in (copy.copy(table), copy.deepcopy(table), pickle.loads(pickle.dumps(table))):
        clone["c"] = Rec("p1")
        assert [r.project_id for r in clone.where("project_id", "p1")] == ["p1", "p1"]
        clone.check()
    assert table.where("project_id", "p1") == [table["a"]]


def test_world_time_logs_follow_adds_edits_and_deletes() -> None:
    world = generate(1, "small", clock=lambda: 1_750_000_000.0)
    project = next(p for p in world.projects.values() if world.tasks.where("project_id", p.id))
    task = world.tasks.where("project_id", project.id)[0]
    before = world.timelogs.where("project_id", project.id)
    log = timesheet.add_log(
        world, project, "task", project.user_ids[0], dt.date(2025, 6, 1), 30, "Billable", task_id=task.id
    )
    assert world.timelogs.where("project_id", project.id) == [*before, log]
    assert world.timelogs.where("task_id", task.id)[-1] is log
    timesheet.edit_log(world, log, minutes=45)
    assert world.timelogs.where("project_id", project.id)[-1].minutes == 45
    timesheet.delete_log(world, log)
    assert world.timelogs.where("project_id", project.id) == before
    assert log not in world.timelogs.where("task_id", task.id)
    for table in (world.timelogs, world.tasks, world.bugs, world.tasklists, world.milestones):
        table.check()


def test_world_books_entry_replaced_under_another_project() -> None:
    world = generate(1, "small", clock=lambda: 1_750_000_000.0)
    ids = iter(str(n) for n in range(100, 200))
    base = dict(organization_id="o", task_id="t", user_id="u", log_date=dt.date(2025, 6, 1), minutes=60)
    for project in ("bp1", "bp2", "bp1"):
        entry_id = next(ids)
        world.time_entries[entry_id] = TimeEntry(time_entry_id=entry_id, project_id=project, **base)
    first = world.time_entries["100"]
    assert world.time_entries.where("project_id", "bp1") == [first, world.time_entries["102"]]
    # how PUT /projects/timeentries/{id} stores an edit: a changed copy under the same key
    world.time_entries["100"] = dataclasses.replace(first, project_id="bp2")
    assert [e.time_entry_id for e in world.time_entries.where("project_id", "bp2")] == ["100", "101"]
    assert [e.time_entry_id for e in world.time_entries.where("project_id", "bp1")] == ["102"]
    world.time_entries.check()
