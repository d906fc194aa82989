"""Portals, projects, clients, users, plans, tasks and bugs: shapes, filters, visibility and error envelopes."""

from __future__ import annotations

import pytest

from sandbox.projects.render import PRIMARY_CLIENT_FLAG
from tests.sandbox.projects.conftest import ProjectsApi


def _ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def test_portals_lists_only_portals_with_a_role_and_their_role(projects_api: ProjectsApi, employee_api):
    body = _ok(projects_api.get("portals/"))
    roles = {p["id_string"]: (p["role"], p["default"]) for p in body["portals"]}
    main, second = projects_api.creds["portal_ids"]
    assert roles == {main: ("admin", True), second: ("employee", False)}
    portal = body["portals"][0]
    assert portal["id"] == int(portal["id_string"]) and portal["settings"]["company_name"]
    assert [p["id_string"] for p in _ok(employee_api.get("portals/"))["portals"]] == [main]


def test_unknown_portal_is_404_6404_and_a_foreign_portal_is_401(projects_api, employee_api):
    missing = projects_api.get("portal/999999999999999999/projects/")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, 6404)
    second = projects_api.creds["portal_ids"][1]
    refused = employee_api.get(f"portal/{second}/projects/")
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, 6401)


def test_trailing_slash_is_optional(projects_api):
    with_slash = _ok(projects_api.get(projects_api.in_portal("projects/")))
    without = _ok(projects_api.get(projects_api.in_portal("projects")))
    assert with_slash == without


def test_project_fields_and_status_filter(projects_api):
    archived = _ok(projects_api.get(projects_api.in_portal("projects/"), status="archived"))["projects"]
    assert {p["id_string"] for p in archived} == set(projects_api.world.awkward["archived_projects"])
    project = archived[0]
    truth = projects_api.world.projects[project["id_string"]]
    assert project["status"] == "archived" and project["name"] == truth.name
    assert project["updated_date_long"] == truth.updated_ms and len(project["updated_date"]) == 10
    assert project["created_date"].count("-") == 2 and project["role"] == "admin"
    bad = projects_api.get(projects_api.in_portal("projects/"), status="closed")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, 6832)


def test_last_modified_time_returns_projects_modified_after_it_in_the_asked_order(projects_api):
    world = projects_api.world
    stamps = sorted(p.updated_ms for p in world.projects.values() if p.portal_id == projects_api.portal)
    since = stamps[len(stamps) // 2]
    listed = _ok(
        projects_api.get(
            projects_api.in_portal("projects/"),
            last_modified_time=since,
            sort_column="last_modified_time",
            sort_order="descending",
        )
    )["projects"]
    got = [p["updated_date_long"] for p in listed]
    assert got == sorted((s for s in stamps if s > since), reverse=True)


def test_the_employee_sees_only_projects_they_belong_to(employee_api):
    world = employee_api.world
    listed = {p["id_string"] for p in _ok(employee_api.get(employee_api.in_portal("projects/")))["projects"]}
    mine = {
        p.id for p in world.projects.values() if employee_api.zuid in p.user_ids and p.portal_id == employee_api.portal
    }
    assert listed == mine and len(mine) < sum(1 for p in world.projects.values() if p.portal_id == employee_api.portal)
    hidden = next(p.id for p in world.projects.values() if p.portal_id == employee_api.portal and p.id not in mine)
    assert employee_api.get(employee_api.in_portal(f"projects/{hidden}/")).status_code == 404


def test_project_clients_flag_the_primary_one(projects_api):
    world = projects_api.world
    for project in list(world.projects.values())[:8]:
        if project.portal_id != projects_api.portal:
            continue
        response = projects_api.get(projects_api.in_portal(f"projects/{project.id}/clients/"))
        if not project.client_ids:
            assert response.status_code == 204
            continue
        clients = _ok(response)["clients"]
        flagged = [c["id_string"] for c in clients if c[PRIMARY_CLIENT_FLAG]]
        assert flagged == ([project.primary_client_id] if project.primary_client_id else [])
        assert all(c["currency_code"] == world.clients[c["id_string"]].currency_code for c in clients)


def test_user_type_filters_portal_users(projects_api):
    path = projects_api.in_portal("users/")
    active = _ok(projects_api.get(path))["users"]
    inactive = _ok(projects_api.get(path, user_type="inactive"))["users"]
    everyone = _ok(projects_api.get(path, user_type="all"))["users"]
    assert all(u["active"] for u in active) and inactive and not any(u["active"] for u in inactive)
    assert len(everyone) == len(active) + len(inactive)
    assert {u["id"] for u in inactive} == set(projects_api.world.awkward["inactive_users"])
    assert {"id", "zpuid", "name", "email", "role", "active"} <= set(everyone[0])


def test_task_fields_and_filters(projects_api):
    world = projects_api.world
    project = next(iter(world.projects.values()))
    path = projects_api.in_portal(f"projects/{project.id}/tasks/")
    tasks = _ok(projects_api.get(path))["tasks"]
    completed = _ok(projects_api.get(path, status="completed"))["tasks"]
    assert completed and all(t["completed"] and t["status"]["type"] == "closed" for t in completed)
    task = tasks[0]
    truth = world.tasks[task["id_string"]]
    assert task["billingtype"] == truth.billingtype and task["last_updated_time_long"] == truth.last_updated_ms
    assert task["tasklist"]["id"] == truth.tasklist_id
    assert [o.get("id") for o in task["details"]["owners"]] == (truth.owner_ids or [None])
    owner = truth.owner_ids[0]
    owned = _ok(projects_api.get(path, owner=owner))["tasks"]
    assert owned and all(owner in [o.get("id") for o in t["details"]["owners"]] for t in owned)
    since = sorted(t.last_updated_ms for t in world.tasks.values() if t.project_id == project.id)[4]
    recent = _ok(projects_api.get(path, last_modified_time=since))["tasks"]
    assert all(t["last_updated_time_long"] > since for t in recent) and len(recent) == 5


def test_tasklists_need_a_flag_and_milestones_list(projects_api):
    project = next(iter(projects_api.world.projects))
    base = projects_api.in_portal(f"projects/{project}/")
    missing = projects_api.get(base + "tasklists/")
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, 6831)
    tasklists = _ok(projects_api.get(base + "tasklists/", flag="internal"))["tasklists"]
    assert any("milestone" in t for t in tasklists)
    assert _ok(projects_api.get(base + "milestones/"))["milestones"][0]["status"] in ("completed", "notcompleted")


@pytest.mark.parametrize("path", ["projects/1/", "projects/{p}/tasks/1/", "projects/{p}/bugs/1/"])
def test_unknown_records_are_404_6404(projects_api, path):
    project = next(iter(projects_api.world.projects))
    response = projects_api.get(projects_api.in_portal(path.format(p=project)))
    assert response.status_code == 404
    assert response.json() == {"error": {"code": 6404, "message": response.json()["error"]["message"]}}


def test_bugs_list_and_statustype(projects_api):
    world = projects_api.world
    project = next(iter(world.projects))
    bugs = _ok(projects_api.get(projects_api.in_portal(f"projects/{project}/bugs/")))["bugs"]
    assert {b["id_string"] for b in bugs} == {b.id for b in world.bugs.values() if b.project_id == project}
    bug = _ok(projects_api.get(projects_api.in_portal(f"projects/{project}/bugs/{bugs[0]['id_string']}/")))["bugs"][0]
    assert bug["title"] == world.bugs[bug["id_string"]].title and bug["key"].startswith("ZY")
