"""ProjectsClient over real HTTP against the sandbox: paging (index/range + 204), parsing, time-log writes."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import requests

from sandbox.server import SandboxServer
from shared.zoho import NotFound, ProjectsClient
from shared.zoho.projects_api import CLASSIC

TASKS = "/restapi/portal/{portal}/projects/{project}/tasks/"


def with_page_size(client: ProjectsClient, size: int) -> ProjectsClient:
    return ProjectsClient(client.http, client.portal_id, api=dataclasses.replace(CLASSIC, page_size=size))


def project_with_tasks(sb: SandboxServer, client: ProjectsClient, n: int) -> str:
    counts: dict[str, int] = {}
    for task in sb.world.tasks.values():
        counts[task.project_id] = counts.get(task.project_id, 0) + 1
    mine = {p.id for p in sb.world.projects.values() if p.portal_id == client.portal_id}
    return next(pid for pid, c in counts.items() if c == n and pid in mine)


def task_requests(sb: SandboxServer) -> int:
    counts = requests.get(sb.base_url + "/_sandbox/requests", timeout=5).json()
    return sum(r["count"] for r in counts["requests"] if r["path"].endswith("/tasks/") and r["method"] == "GET")


@pytest.mark.parametrize(("page_size", "pages"), [(5, 3), (3, 4)])
def test_tasks_page_to_the_end_exact_multiple_ends_on_204(
    sandbox: SandboxServer, projects: ProjectsClient, page_size: int, pages: int
) -> None:
    pid = project_with_tasks(sandbox, projects, 10)
    requests.delete(sandbox.base_url + "/_sandbox/requests", timeout=5)
    got = list(with_page_size(projects, page_size).iter_tasks(pid))
    truth = {t.id for t in sandbox.world.tasks.values() if t.project_id == pid}
    assert [t.id for t in got] and {t.id for t in got} == truth and len(got) == len(truth)
    assert task_requests(sandbox) == pages  # 5+5+204, or 3+3+3+1 (a short page is the end)


def test_a_cursor_resumes_a_listing_exactly_there(sandbox: SandboxServer, projects: ProjectsClient) -> None:
    client = with_page_size(projects, 4)
    pid = project_with_tasks(sandbox, projects, 10)
    first = client.tasks_page(pid)
    rest = client.tasks_page(pid, first.next_cursor)
    all_ids = [t.id for t in client.iter_tasks(pid)]
    assert [t.id for t in first.items + rest.items] == all_ids[:8]


def test_projects_modified_since_filters_on_updated_millis(sandbox: SandboxServer, projects: ProjectsClient) -> None:
    everything = list(projects.iter_projects())
    assert all(isinstance(p.id, str) and len(p.id) == 18 for p in everything)
    newest = sorted(p.updated_ms for p in everything)
    since = newest[len(newest) // 2]
    recent = list(projects.iter_projects(modified_since_ms=since))
    assert recent and all(p.updated_ms > since for p in recent)
    assert len(recent) < len(everything)


def test_primary_client_and_users_are_parsed(sandbox: SandboxServer, projects: ProjectsClient) -> None:
    project = next(
        p for p in sandbox.world.projects.values() if p.primary_client_id and p.portal_id == projects.portal_id
    )
    clients = projects.project_clients(project.id)
    assert [c.id for c in clients if c.is_primary] == [project.primary_client_id]
    users = list(projects.iter_project_users(project.id))
    assert {u.id for u in users} == set(project.user_ids)


def test_unknown_project_is_not_found(projects: ProjectsClient) -> None:
    with pytest.raises(NotFound) as err:
        projects.get_project("170876999999999999")
    assert err.value.code == 6404


@pytest.mark.parametrize("component", ["task", "bug", "general"])
def test_time_logs_of_all_components_match_the_ground_truth(
    sandbox: SandboxServer, projects: ProjectsClient, component: str
) -> None:
    logs = [log for log in sandbox.world.timelogs.values() if log.component == component]
    pid = max({log.project_id for log in logs}, key=lambda p: sum(1 for log in logs if log.project_id == p))
    truth = {log.id: log for log in logs if log.project_id == pid}
    start, end = min(log.log_date for log in truth.values()), max(log.log_date for log in truth.values())
    got = list(with_page_size(projects, 7).iter_timelogs_between(pid, start, end, component=component))
    assert {log.id for log in got} == set(truth)
    for log in got:
        want = truth[log.id]
        assert (log.minutes, log.log_date, log.owner_id, log.billable) == (
            want.minutes,
            want.log_date,
            want.owner_id,
            want.bill_status == "Billable",
        )
        assert log.task_id == want.task_id and log.bug_id == want.bug_id


def test_add_approve_update_delete_a_task_log(sandbox: SandboxServer, projects: ProjectsClient) -> None:
    task = next(
        t
        for t in sandbox.world.tasks.values()
        if t.owner_ids and sandbox.world.projects[t.project_id].portal_id == projects.portal_id
    )
    day = sandbox.world.today() - dt.timedelta(days=1)
    log = projects.add_timelog(
        task.project_id,
        component="task",
        task_id=task.id,
        date=day,
        minutes=90,
        notes="pairing",
        owner_id=task.owner_ids[0],
    )
    assert (log.minutes, log.log_date, log.task_id, log.billable) == (90, day, task.id, True)
    projects.approve_timelog(task.project_id, log.id, component="task", task_id=task.id)
    assert sandbox.world.timelogs[log.id].approval_status == "Approved"
    listed = [
        x
        for x in projects.iter_timelogs(task.project_id, component="task", view_type="day", date=day)
        if x.id == log.id
    ]
    assert listed and listed[0].approval_status == "Approved"
    projects.delete_timelog(task.project_id, log.id, component="task", task_id=task.id)
    assert log.id not in sandbox.world.timelogs
