"""Projects-side acts through ``POST /_sandbox/act``: each changes the world as the UI would, bumps the
record's modified time and refuses bad params with a 400."""

from __future__ import annotations

import pytest
import requests

from sandbox.acts import ACTS
from tests.sandbox.projects.conftest import TODAY, ProjectsApi

LATER = 1_750_000_600.0  # ten minutes after the world's "now" (the access token is still valid)


@pytest.fixture
def admin(fresh_projects) -> ProjectsApi:
    api = fresh_projects("admin")
    api.world.clock = lambda: LATER
    return api


def act(api: ProjectsApi, action: str, **params) -> requests.Response:
    return requests.post(f"{api.server.base_url}/_sandbox/act", json={"action": action, **params}, timeout=10)


def _ok(response: requests.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def test_every_projects_act_is_registered():
    import sandbox.projects.acts  # noqa: F401

    expected = {"log_time", "approve_log", "reject_log", "edit_log", "delete_log", "complete_task", "rename_task"}
    expected |= {"create_task", "rename_client", "set_primary_client", "change_client_currency", "add_project"}
    assert expected <= set(ACTS)


def test_log_time_then_approve_reject_edit_delete(admin):
    world = admin.world
    task = next(iter(world.tasks.values()))
    body = _ok(act(admin, "log_time", project_id=task.project_id, task_id=task.id, minutes=45, date=TODAY.isoformat()))
    log = world.timelogs[_result(body)["log_id"]]
    assert (log.component, log.minutes, log.approval_status, log.created_ms) == ("task", 45, "Pending", LATER * 1000)
    _ok(act(admin, "approve_log", log_id=log.id))
    owner = world.portals[world.projects[log.project_id].portal_id].owner_zuid
    assert (log.approval_status, log.approver_id) == ("Approved", owner)
    _ok(act(admin, "reject_log", log_id=log.id))
    assert log.approval_status == "Rejected"
    _ok(act(admin, "edit_log", log_id=log.id, minutes=90, bill_status="Non Billable"))
    assert (log.minutes, log.bill_status) == (90, "Non Billable")
    _ok(act(admin, "delete_log", log_id=log.id))
    assert log.id not in world.timelogs


def test_log_time_refuses_what_the_api_refuses(admin):
    task = next(iter(admin.world.tasks.values()))
    future = act(admin, "log_time", project_id=task.project_id, task_id=task.id, minutes=30, date="2030-01-01")
    assert future.status_code == 400
    general_without_name = act(admin, "log_time", project_id=task.project_id, minutes=30)
    assert general_without_name.status_code == 400
    assert act(admin, "approve_log", log_id="1").status_code == 400


def test_task_acts_bump_last_updated(admin):
    world = admin.world
    project = next(iter(world.projects.values()))
    task_id = _result(_ok(act(admin, "create_task", project_id=project.id, name="Close the books")))["task_id"]
    task = world.tasks[task_id]
    assert task.key.startswith(project.key + "-T") and task.last_updated_ms == LATER * 1000
    world.clock = lambda: LATER + 60
    _ok(act(admin, "rename_task", task_id=task_id, name="Close the month"))
    _ok(act(admin, "complete_task", task_id=task_id))
    assert (task.name, task.completed, task.last_updated_ms) == ("Close the month", True, (LATER + 60) * 1000)


def test_client_acts_and_fixing_a_missing_primary_client(admin):
    world = admin.world
    project = world.projects[world.awkward["no_primary_client"][0]]
    before = project.updated_ms
    body = _result(_ok(act(admin, "set_primary_client", project_id=project.id)))
    assert body["primary_client_id"] == project.primary_client_id == project.client_ids[0]
    assert project.updated_ms > before
    client = world.clients[project.primary_client_id]
    _ok(act(admin, "rename_client", client_id=client.id, name="Harbor Analytics Group plc"))
    _ok(act(admin, "change_client_currency", client_id=client.id, currency_code="GBP"))
    assert (client.name, client.currency_code, client.modified_ms) == (
        "Harbor Analytics Group plc",
        "GBP",
        LATER * 1000,
    )
    assert act(admin, "change_client_currency", client_id=client.id, currency_code="pounds").status_code == 400


def test_add_project_with_a_primary_client_is_listed_by_the_api(admin):
    client = next(c for c in admin.world.clients.values() if c.portal_id == admin.portal)
    project_id = _result(_ok(act(admin, "add_project", name="New engagement", client_id=client.id)))["project_id"]
    response = admin.get(admin.in_portal(f"projects/{project_id}/clients/"))
    assert response.status_code == 200, response.text
    listed = response.json()["clients"]
    assert [(c["id_string"], c["is_primary"]) for c in listed] == [(client.id, True)]
    assert (
        act(
            admin, "set_primary_client", project_id=_result(_ok(act(admin, "add_project", name="Bare")))["project_id"]
        ).status_code
        == 400
    )


def _result(body: dict) -> dict:
    """The act's own return value, whether the admin route wraps it or not."""
    return body.get("result", body)
