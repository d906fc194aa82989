"""A timesheets run resumed across an upgrade: the checkpoint an earlier version wrote still reads."""

from __future__ import annotations

import datetime as dt

from worker.modules.timelog_scope import upgraded
from worker.modules.timelog_windows import FULL, RECENT, ProjectScan

BEFORE_0002 = {
    "recent": True,
    "projects": ["p1", "p2"],
    "linked": ["p1", "p2"],
    "starts": {},
    "index": 1,
    "scan": {"plan": {"components": ["task"], "months": ["2024-03-01"]}, "w": 0, "page": None, "seen": ["l1"]},
}


def test_a_run_started_before_0002_resumes_in_its_mode_where_it_stopped():
    run = upgraded(BEFORE_0002)
    assert run["mode"] == RECENT and upgraded({**BEFORE_0002, "recent": False})["mode"] == FULL
    assert run["extra"] == {} and run["deleted"] == []  # no webhook named months or deletions then
    assert {k: run[k] for k in BEFORE_0002} == BEFORE_0002  # same projects, same place in them
    assert ProjectScan.from_json(run["scan"]["plan"]).windows == [("task", dt.date(2024, 3, 1))]


def test_a_run_in_todays_shape_is_read_as_it_is():
    today_shape = {**BEFORE_0002, "mode": FULL, "extra": {"p1": {"bug": ["2024-01-05"]}}, "deleted": ["l9"]}
    del today_shape["recent"]
    assert upgraded(today_shape) == today_shape
