"""GET .../logs/: the five required parameters, windows, filters, grouping by date and the log fields."""

from __future__ import annotations

import datetime as dt

import pytest

from sandbox.projects.timesheet import log_window
from tests.sandbox.projects.conftest import TODAY, ProjectsApi

REQUIRED = {
    "users_list": "all",
    "view_type": "month",
    "date": TODAY.strftime("%m-%d-%Y"),
    "bill_status": "All",
    "component_type": "task",
}


def _project_logs(api: ProjectsApi, project_id: str, **params) -> list[dict]:
    response = api.get(api.in_portal(f"projects/{project_id}/logs/"), **(REQUIRED | params))
    if response.status_code == 204:
        assert response.content == b""
        return []
    assert response.status_code == 200, response.text
    body = response.json()["timelogs"]
    key = {"task": "tasklogs", "bug": "buglogs", "general": "generallogs"}[(REQUIRED | params)["component_type"]]
    for day in body["date"]:
        assert set(day) == {"date", "display_format", "date_long", "total_hours", key}
        assert all(log["log_date"] == day["date"] for log in day[key])
    return [log for day in body["date"] for log in day[key]]


@pytest.fixture(scope="module")
def first_project(projects_api: ProjectsApi) -> str:
    return next(iter(projects_api.world.projects))


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_each_required_parameter_missing_is_a_400_6831(projects_api, first_project, missing):
    params = {k: v for k, v in REQUIRED.items() if k != missing}
    response = projects_api.get(projects_api.in_portal(f"projects/{first_project}/logs/"), **params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 6831
    assert missing in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "bad",
    [
        {"view_type": "year"},
        {"date": "2025-06-15"},
        {"date": "02-30-2025"},
        {"bill_status": "billable"},
        {"component_type": "issue"},
        {"users_list": "john"},
    ],
)
def test_invalid_values_are_a_400_6832(projects_api, first_project, bad):
    response = projects_api.get(projects_api.in_portal(f"projects/{first_project}/logs/"), **(REQUIRED | bad))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 6832


def test_each_component_is_grouped_under_its_own_key_with_its_subject(projects_api, first_project):
    world = projects_api.world
    window = {"view_type": "month", "date": TODAY.strftime("%m-%d-%Y")}
    tasks = _project_logs(projects_api, first_project, component_type="task", **window)
    bugs = _project_logs(projects_api, first_project, component_type="bug", **window)
    general = _project_logs(projects_api, first_project, component_type="general", **window)
    assert tasks and bugs and general  # the generator opens project 0 with all three in the last days
    assert all(world.tasks[log["task"]["id_string"]].name == log["task"]["name"] for log in tasks)
    assert all("task_list" in log and "bug" not in log for log in tasks)
    assert all(world.bugs[log["bug"]["id_string"]].title == log["bug"]["title"] for log in bugs)
    assert all(log["name"] and "task" not in log for log in general)
    ids = [log["id_string"] for log in tasks + bugs + general]
    assert all(
        world.timelogs[i].component == c
        for i, c in zip(ids, ["task"] * len(tasks) + ["bug"] * len(bugs) + ["general"] * len(general), strict=True)
    )


def test_log_fields_ids_dates_and_hours(projects_api, first_project):
    log = _project_logs(projects_api, first_project)[0]
    truth = projects_api.world.timelogs[log["id_string"]]
    assert log["id"] == int(truth.id) and isinstance(log["id"], int) and len(log["id_string"]) == 18
    assert log["log_date"] == truth.log_date.strftime("%m-%d-%Y")
    midnight = dt.datetime.combine(truth.log_date, dt.time(), tzinfo=dt.UTC)
    assert log["log_date_long"] == int(midnight.timestamp() * 1000)
    assert log["total_minutes"] == truth.minutes == log["hours"] * 60 + log["minutes"]
    assert log["hours_display"] == f"{truth.minutes // 60:02d}:{truth.minutes % 60:02d}"
    assert (log["bill_status"], log["approval_status"]) == (truth.bill_status, truth.approval_status)
    assert log["owner_id"] == truth.owner_id and log["owner_name"]
    assert log["project"]["id_string"] == first_project


@pytest.mark.parametrize("view_type", ["day", "week", "month"])
def test_the_window_matches_the_view_type(projects_api, first_project, view_type):
    anchor = TODAY - dt.timedelta(days=3)
    first, last = log_window(view_type, anchor)
    got = {
        log["id_string"]
        for log in _project_logs(
            projects_api, first_project, view_type=view_type, date=anchor.strftime("%m-%d-%Y"), range=200
        )
    }
    expected = {
        log.id
        for log in projects_api.world.timelogs.values()
        if log.project_id == first_project and log.component == "task" and first <= log.log_date <= last
    }
    assert got == expected
    if view_type == "day":
        assert first == last == anchor
    if view_type == "month":
        assert first.day == 1 and (last + dt.timedelta(days=1)).day == 1 and first.month == last.month
    if view_type == "week":
        assert (last - first).days == 6 and first <= anchor <= last
        assert first.weekday() == 6  # Sunday


def test_users_and_bill_status_filters(projects_api, first_project):
    world = projects_api.world
    everyone = _project_logs(projects_api, first_project, view_type="month", range=200)
    owner = everyone[0]["owner_id"]
    mine = _project_logs(projects_api, first_project, users_list=owner, range=200)
    assert mine and {log["owner_id"] for log in mine} == {owner}
    non_billable = _project_logs(projects_api, first_project, bill_status="Non Billable", range=200)
    assert non_billable and all(world.timelogs[log["id_string"]].bill_status == "Non Billable" for log in non_billable)


def test_a_window_without_logs_is_204_with_an_empty_body(projects_api, first_project):
    assert _project_logs(projects_api, first_project, date="01-15-2019") == []


def test_task_and_bug_log_endpoints_need_no_component_type(projects_api, first_project):
    world = projects_api.world
    bug_id = world.awkward["bugs_with_logs"][0]
    bug = world.bugs[bug_id]
    params = {k: v for k, v in REQUIRED.items() if k != "component_type"} | {"view_type": "month", "range": 200}
    log = world.timelogs[next(i for i in world.awkward["bug_logs"] if world.timelogs[i].bug_id == bug_id)]
    params["date"] = log.log_date.strftime("%m-%d-%Y")
    body = projects_api.get(projects_api.in_portal(f"projects/{bug.project_id}/bugs/{bug_id}/logs/"), **params).json()
    assert log.id in {entry["id_string"] for day in body["timelogs"]["date"] for entry in day["buglogs"]}
