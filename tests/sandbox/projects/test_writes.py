"""Writes through the API: time logs (add, update, delete, approve), tasks and projects, with webhooks."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.sandbox.projects.conftest import TODAY, ProjectsApi

DAY = TODAY.strftime("%m-%d-%Y")


@pytest.fixture
def admin(fresh_projects) -> ProjectsApi:
    return fresh_projects("admin")


def _project_and_task(api: ProjectsApi) -> tuple[str, str]:
    project = next(iter(api.world.projects.values()))
    task = next(t for t in api.world.tasks.values() if t.project_id == project.id)
    return project.id, task.id


def test_add_task_log_returns_it_under_tasklogs_and_lists_it(admin):
    project, task = _project_and_task(admin)
    response = admin.post(
        admin.in_portal(f"projects/{project}/tasks/{task}/logs/"),
        date=DAY,
        bill_status="Billable",
        hours="02:30",
        notes="pairing",
    )
    assert response.status_code == 201, response.text
    log = response.json()["timelogs"]["tasklogs"][0]
    assert (log["total_minutes"], log["approval_status"], log["notes"]) == (150, "Pending", "pairing")
    assert admin.world.timelogs[log["id_string"]].owner_id == admin.zuid
    assert admin.events == [("timelog.created", admin.events[0][1])]
    assert admin.events[0][1]["log_id"] == log["id_string"]
    assert admin.events[0][1]["log_date"] == log["log_date"]  # as Zoho's webhook placeholders give it


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"bill_status": "Billable", "hours": "01:00"}, 6831),
        ({"date": DAY, "bill_status": "Billable"}, 6831),
        ({"date": DAY, "bill_status": "billable", "hours": "01:00"}, 6832),
        ({"date": DAY, "bill_status": "Billable", "hours": "1.5"}, 6832),
        ({"date": DAY, "bill_status": "Billable", "hours": "00:00"}, 6832),
        (
            {"date": (TODAY + dt.timedelta(days=1)).strftime("%m-%d-%Y"), "bill_status": "Billable", "hours": "01:00"},
            6832,
        ),
    ],
)
def test_bad_log_forms_are_refused_and_nothing_is_stored(admin, form, code):
    project, task = _project_and_task(admin)
    before = len(admin.world.timelogs)
    response = admin.post(admin.in_portal(f"projects/{project}/tasks/{task}/logs/"), **form)
    assert (response.status_code, response.json()["error"]["code"]) == (400, code)
    assert len(admin.world.timelogs) == before and admin.events == []


def test_general_log_needs_a_name(admin):
    project, _ = _project_and_task(admin)
    path = admin.in_portal(f"projects/{project}/logs/")
    refused = admin.post(path, date=DAY, bill_status="Billable", hours="01:00")
    assert refused.status_code == 400 and "name" in refused.json()["error"]["message"]
    created = admin.post(path, date=DAY, bill_status="Non Billable", hours="01:00", name="Client call")
    assert created.json()["timelogs"]["generallogs"][0]["name"] == "Client call"


def test_update_approve_and_delete_a_log(admin):
    project, task = _project_and_task(admin)
    base = admin.in_portal(f"projects/{project}/tasks/{task}/logs/")
    log_id = admin.post(base, date=DAY, bill_status="Billable", hours="01:00").json()["timelogs"]["tasklogs"][0][
        "id_string"
    ]
    created_ms = admin.world.timelogs[log_id].modified_ms
    admin.world.clock = lambda: 1_750_000_600.0  # ten minutes later
    updated = admin.post(f"{base}{log_id}/", hours="03:15", bill_status="Non Billable").json()["timelogs"]["tasklogs"][
        0
    ]
    assert (updated["total_minutes"], updated["bill_status"]) == (195, "Non Billable")
    assert admin.world.timelogs[log_id].modified_ms > created_ms
    approved = admin.post(f"{base}{log_id}/approval", approval_status="Approved").json()["timelogs"]["tasklogs"][0]
    assert approved["approval_status"] == "Approved" and approved["approver_name"]
    deleted = admin.delete(f"{base}{log_id}/")
    assert deleted.json() == {"response": "Timesheet log Deleted Successfully."}
    assert log_id not in admin.world.timelogs
    assert [e for e, _ in admin.events] == ["timelog.created", "timelog.updated", "timelog.approved", "timelog.deleted"]


def test_a_log_is_only_reachable_under_its_own_task(admin):
    project, task = _project_and_task(admin)
    other = next(t.id for t in admin.world.tasks.values() if t.project_id == project and t.id != task)
    log_id = admin.post(
        admin.in_portal(f"projects/{project}/tasks/{task}/logs/"), date=DAY, bill_status="Billable", hours="01:00"
    ).json()["timelogs"]["tasklogs"][0]["id_string"]
    assert admin.delete(admin.in_portal(f"projects/{project}/tasks/{other}/logs/{log_id}/")).status_code == 404


def test_employees_cannot_approve_or_log_for_others(fresh_projects):
    employee = fresh_projects("non_admin")
    world = employee.world
    log = next(world.timelogs[i] for i in world.awkward["unapproved_logs"] if world.timelogs[i].component == "task")
    path = employee.in_portal(f"projects/{log.project_id}/tasks/{log.task_id}/logs/")
    refused = employee.post(f"{path}{log.id}/approval", approval_status="Approved")
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, 6401)
    assert world.timelogs[log.id].approval_status != "Approved"
    for_other = employee.post(
        path, date=DAY, bill_status="Billable", hours="01:00", owner=employee.creds["admin"]["zuid"]
    )
    assert for_other.status_code == 401


def test_create_and_complete_a_task_bumps_last_updated_time(admin):
    project, _ = _project_and_task(admin)
    created = admin.post(
        admin.in_portal(f"projects/{project}/tasks/"), name="Write the runbook", person_responsible=admin.zuid
    )
    assert created.status_code == 201, created.text
    task = created.json()["tasks"][0]
    assert task["details"]["owners"][0]["id"] == admin.zuid and not task["completed"]
    admin.world.clock = lambda: 1_750_000_900.0
    done = admin.post(admin.in_portal(f"projects/{project}/tasks/{task['id_string']}/"), percent_complete="100")
    body = done.json()["tasks"][0]
    assert body["completed"] and body["last_updated_time_long"] == 1_750_000_900_000
    assert [e for e, _ in admin.events] == ["task.created", "task.updated"]


def test_create_and_archive_a_project(admin):
    created = admin.post(admin.in_portal("projects/"), name="Quarterly close", start_date="06-01-2025")
    assert created.status_code == 201, created.text
    project = created.json()["projects"][0]
    assert project["start_date"] == "06-01-2025" and project["status"] == "active"
    archived = admin.post(admin.in_portal(f"projects/{project['id_string']}/"), status="archived")
    assert archived.json()["projects"][0]["status"] == "archived"
    assert admin.post(admin.in_portal("projects/"), description="no name").status_code == 400


def test_deleting_a_task_or_a_project_takes_what_is_under_it(fresh_projects):
    employee = fresh_projects("non_admin")
    admin = fresh_projects("admin")  # made last: this session receives the webhook events
    project, task = _project_and_task(admin)
    world = admin.world
    task_logs = [log.id for log in world.timelogs.values() if log.task_id == task]
    assert task_logs, "the first task should have time logged"
    assert employee.delete(admin.in_portal(f"projects/{project}/tasks/{task}/")).status_code == 401
    gone = admin.delete(admin.in_portal(f"projects/{project}/tasks/{task}/"))
    assert gone.json() == {"response": "Task Deleted Successfully."}
    assert admin.get(admin.in_portal(f"projects/{project}/tasks/{task}/")).status_code == 404
    assert not any(log_id in world.timelogs for log_id in task_logs)
    assert [e for e, _ in admin.events] == ["task.deleted"]

    assert world.tasks.where("project_id", project) and world.timelogs.where("project_id", project)
    dropped = admin.delete(admin.in_portal(f"projects/{project}/"))
    assert dropped.json() == {"response": "Project Deleted Successfully."}
    for path in (f"projects/{project}/", f"projects/{project}/tasks/", f"projects/{project}/bugs/"):
        assert admin.get(admin.in_portal(path)).status_code == 404, path
    assert not world.tasks.where("project_id", project) and not world.timelogs.where("project_id", project)
    assert not world.bugs.where("project_id", project)
    world.timelogs.check()
    world.tasks.check()
