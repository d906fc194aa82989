"""The caller's portal-level lists: ``mytasks/``, ``mybugs/`` and ``logs`` (my time logs) — who they hold, their
shape, ``index``/``range`` paging and their filters."""

from __future__ import annotations

import datetime as dt

import pytest

from sandbox.projects.timesheet import log_window
from tests.sandbox.projects.conftest import TODAY, ProjectsApi

# last month: a whole month of seeded logs
MONTH = (TODAY.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
LOG_PARAMS = {"view_type": "month", "bill_status": "All", "component_type": "task"}


def _visible_project_ids(api: ProjectsApi) -> set[str]:
    portal = api.world.portals[api.portal]
    everything = portal.roles[api.zuid] == "admin"
    return {
        p.id
        for p in api.world.projects.values()
        if p.portal_id == api.portal and (everything or api.zuid in p.user_ids)
    }


def _all_pages(api: ProjectsApi, path: str, key: str, **params) -> list[dict]:
    """Every record of a list, read 7 at a time until Zoho's 204 (pages must neither skip nor repeat)."""
    records, index = [], 1
    while True:
        response = api.get(path, index=index, range=7, **params)
        if response.status_code == 204:
            assert response.content == b""
            return records
        assert response.status_code == 200, response.text
        page = response.json()[key]
        assert 1 <= len(page) <= 7
        records += page
        index += 7


@pytest.mark.parametrize("who", ["admin", "employee"])
def test_my_tasks_are_the_tasks_the_caller_owns_in_the_portal_each_naming_its_project(projects_api, employee_api, who):
    api = projects_api if who == "admin" else employee_api
    listed = _all_pages(api, api.in_portal("mytasks/"), "tasks")
    visible = _visible_project_ids(api)
    expected = {t.id: t for t in api.world.tasks.values() if api.zuid in t.owner_ids and t.project_id in visible}
    assert expected, "the seeded world gives every person tasks"
    ids = [t["id_string"] for t in listed]
    assert len(ids) == len(set(ids)) and set(ids) == set(expected)
    first = listed[0]
    task = expected[first["id_string"]]
    project = api.world.projects[task.project_id]
    assert first["project"] == {"id": int(project.id), "id_string": project.id, "name": project.name}
    assert first["name"] == task.name and first["completed"] == task.completed
    assert any(owner["id"] == api.zuid for owner in first["details"]["owners"])


def test_my_tasks_filter_by_status_priority_and_due_time(employee_api):
    api, path = employee_api, employee_api.in_portal("mytasks/")
    mine = [
        t for t in api.world.tasks.values() if api.zuid in t.owner_ids and t.project_id in _visible_project_ids(api)
    ]

    def listed(**params) -> set[str]:
        return {t["id_string"] for t in _all_pages(api, path, "tasks", **params)}

    assert listed(status="completed") == {t.id for t in mine if t.completed}
    assert listed(status="notcompleted") == {t.id for t in mine if not t.completed}
    assert listed(priority="high") == {t.id for t in mine if t.priority == "High"}
    overdue = {t.id for t in mine if not t.completed and t.end_date is not None and t.end_date < TODAY}
    assert overdue and listed(time="overdue") == overdue
    assert listed(status="completed", priority="low") == {t.id for t in mine if t.completed and t.priority == "Low"}


def test_a_bad_filter_value_is_zohos_400_envelope(employee_api):
    for params in ({"status": "done"}, {"time": "yesterday"}, {"priority": "urgent"}, {"range": 201}):
        response = employee_api.get(employee_api.in_portal("mytasks/"), **params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == 6832


def test_my_bugs_are_the_bugs_assigned_to_the_caller_with_statustype(employee_api):
    api, path = employee_api, employee_api.in_portal("mybugs/")
    visible = _visible_project_ids(api)
    mine = {b.id: b for b in api.world.bugs.values() if b.assignee_id == api.zuid and b.project_id in visible}
    assert mine
    listed = _all_pages(api, path, "bugs")
    assert sorted(b["id_string"] for b in listed) == sorted(mine)
    assert all(b["assignee_id"] == api.zuid for b in listed)
    assert listed[0]["project"]["name"] == api.world.projects[mine[listed[0]["id_string"]].project_id].name
    closed = {b["id_string"] for b in _all_pages(api, path, "bugs", statustype="closed")}
    assert closed == {i for i, b in mine.items() if b.closed}
    assert {b["id_string"] for b in _all_pages(api, path, "bugs", statustype="open")} == set(mine) - closed


def test_my_time_logs_hold_only_the_callers_logs_grouped_by_date(employee_api, projects_api):
    api = employee_api
    first, last = log_window("month", MONTH)
    visible = _visible_project_ids(api)
    expected = {
        log.id
        for log in api.world.timelogs.values()
        if log.owner_id == api.zuid
        and log.project_id in visible
        and log.component == "task"
        and first <= log.log_date <= last
    }
    assert expected
    # no users_list: the caller is the user (and a users_list naming someone else changes nothing)
    date = MONTH.strftime("%m-%d-%Y")
    body = api.get(api.in_portal("logs"), date=date, range=200, **LOG_PARAMS).json()["timelogs"]
    got = [log for day in body["date"] for log in day["tasklogs"]]
    assert {log["id_string"] for log in got} == expected
    assert all(log["owner_id"] == api.zuid for log in got)
    assert [day["date"] for day in body["date"]] == sorted(day["date"] for day in body["date"])
    other = api.get(api.in_portal("logs/"), date=date, range=200, users_list=projects_api.zuid, **LOG_PARAMS)
    assert {log["id_string"] for day in other.json()["timelogs"]["date"] for log in day["tasklogs"]} == expected


def test_my_time_logs_page_by_index_and_range_and_need_their_parameters(employee_api):
    api, path = employee_api, employee_api.in_portal("logs/")
    params = {"date": MONTH.strftime("%m-%d-%Y"), **LOG_PARAMS}

    def page(index: int) -> list[str]:
        response = api.get(path, index=index, range=5, **params)
        if response.status_code == 204:
            return []
        return [log["id_string"] for day in response.json()["timelogs"]["date"] for log in day["tasklogs"]]

    pages = []
    while not pages or pages[-1]:
        pages.append(page(1 + 5 * len(pages)))
    ids = [i for p in pages for i in p]
    assert len(pages) > 2 and len(ids) == len(set(ids))
    everything = api.get(path, range=200, **params).json()["timelogs"]["date"]
    assert len(ids) == sum(len(day["tasklogs"]) for day in everything)

    missing = api.get(path, date=params["date"], bill_status="All", component_type="task")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == 6831
    assert "view_type" in missing.json()["error"]["message"]


def test_another_portals_lists_are_refused_with_the_envelope(employee_api):
    other = next(p for p in employee_api.world.portals.values() if employee_api.zuid not in p.roles)
    response = employee_api.get(f"portal/{other.id}/mytasks/")
    assert response.status_code == 401 and response.json()["error"]["code"] == 6401
