"""index/range paging on classic list endpoints: page edges, 204 with an empty body, the range ceiling."""

from __future__ import annotations

import pytest

from sandbox.projects import timesheet
from tests.sandbox.projects.conftest import TODAY, ProjectsApi


@pytest.fixture(scope="module")
def tasks_path(projects_api: ProjectsApi) -> str:
    project = next(iter(projects_api.world.projects.values()))
    return projects_api.in_portal(f"projects/{project.id}/tasks/")


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [t["id_string"] for t in response.json()["tasks"]]


def test_pages_of_an_exact_multiple_end_with_204_and_an_empty_body(projects_api, tasks_path):
    # the generated project has exactly 10 tasks
    first = _ids(projects_api.get(tasks_path, index=1, range=5))
    second = _ids(projects_api.get(tasks_path, index=6, range=5))
    assert len(first) == len(second) == 5
    assert not set(first) & set(second)
    after = projects_api.get(tasks_path, index=11, range=5)
    assert after.status_code == 204
    assert after.content == b""


def test_last_partial_page_holds_the_remainder(projects_api, tasks_path):
    pages = [_ids(projects_api.get(tasks_path, index=i, range=3)) for i in (1, 4, 7, 10)]
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    assert len({i for p in pages for i in p}) == 10


def test_index_0_and_1_both_mean_the_first_record(projects_api, tasks_path):
    assert _ids(projects_api.get(tasks_path, index=0, range=4)) == _ids(projects_api.get(tasks_path, index=1, range=4))


def test_default_range_is_100_and_200_is_the_ceiling(fresh_projects):
    api = fresh_projects("admin")
    project = next(iter(api.world.projects.values()))
    task = next(t for t in api.world.tasks.values() if t.project_id == project.id)
    for _ in range(150):  # one busy day: far more logs than the default page
        timesheet.add_log(api.world, project, "task", api.zuid, TODAY, 15, "Billable", task_id=task.id)
    path = api.in_portal(f"projects/{project.id}/logs/")
    params = {"users_list": api.zuid, "view_type": "day", "date": TODAY.strftime("%m-%d-%Y")}
    params |= {"bill_status": "All", "component_type": "task"}

    def count(**extra) -> int:
        body = api.get(path, **params, **extra).json()
        return sum(len(day["tasklogs"]) for day in body["timelogs"]["date"])

    own_today = sum(
        1
        for log in api.world.timelogs.values()
        if log.owner_id == api.zuid
        and log.log_date == TODAY
        and log.project_id == project.id
        and log.component == "task"
    )
    assert count() == 100
    assert count(range=200) == own_today >= 150
    assert count(index=101) == own_today - 100


@pytest.mark.parametrize("bad", [{"range": 201}, {"range": 0}, {"range": "ten"}, {"index": -1}])
def test_out_of_bounds_paging_is_a_400_in_zohos_envelope(projects_api, tasks_path, bad):
    response = projects_api.get(tasks_path, **bad)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 6832
    assert response.json()["error"]["message"]


def test_every_list_endpoint_answers_an_empty_page_with_204(projects_api):
    project = next(iter(projects_api.world.projects.values()))
    base = f"projects/{project.id}/"
    paths = ["projects/", "clients/", "users/", base + "clients/", base + "users/", base + "tasks/"]
    paths += [base + "bugs/", base + "milestones/", base + "tasklists/?flag=internal"]
    for path in paths:
        sep = "&" if "?" in path else "?"
        response = projects_api.http.get(projects_api.url(projects_api.in_portal(path)) + f"{sep}index=100000")
        assert (response.status_code, response.content) == (204, b""), path
