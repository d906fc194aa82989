"""Projects, project users and tasks."""

from __future__ import annotations

from sandbox.books import rules
from tests.sandbox.books.conftest import BooksClient


def _create(books: BooksClient, **overrides: object) -> dict:
    body = {"project_name": "Mobile app", "customer_id": books.ids.acme, "billing_type": "based_on_project_hours",
            "rate": 120, "user_id": books.ids.admin_user,
            "tasks": [{"task_name": "Spec", "rate": 90}]} | overrides  # fmt: skip
    return books.post("/projects", body).json()


def test_create_project_with_owner_and_tasks(books: BooksClient) -> None:
    body = _create(books)
    assert body["message"] == "The project has been created."
    project = body["project"]
    assert [u["user_id"] for u in project["users"]] == [books.ids.admin_user]
    assert project["users"][0]["is_current_user"] is True
    assert [t["task_name"] for t in project["tasks"]] == ["Spec"]
    assert (project["customer_name"], project["currency_code"], project["total_hours"]) == ("Acme Ltd", "USD", "00:00")


def test_create_project_validation(books: BooksClient) -> None:
    for field in ("project_name", "customer_id", "billing_type", "user_id"):
        assert _create(books, **{field: ""})["code"] == 2, field
    assert _create(books, billing_type="hourly")["code"] == 2
    assert _create(books, user_id="1")["code"] == 2
    vendor = books.post("/contacts", {"contact_name": "Supplier", "contact_type": "vendor"}).json()["contact"]
    assert _create(books, customer_id=vendor["contact_id"])["code"] == 2
    assert len(books.get("/projects").json()["projects"]) == 1  # nothing half-made


def test_project_hours_come_from_time_entries(books: BooksClient) -> None:
    project = books.get(f"/projects/{books.ids.project}").json()["project"]
    assert (project["total_hours"], project["billable_hours"], project["un_billed_hours"]) == (
        "07:30",
        "07:30",
        "07:30",
    )
    # task-hours billing: 3 x 1.5 h of Design at 100 + 2 x 1.5 h of Build at 80
    assert project["billable_amount"] == 690.0
    listed = books.get("/projects", customer_id=books.ids.acme).json()
    assert listed["projects"][0]["total_hours"] == "07:30"
    assert listed["page_context"]["report_name"] == "Projects"
    assert books.get("/projects", customer_id=books.ids.globex).json()["projects"] == []


def test_active_inactive_update_delete(books: BooksClient) -> None:
    project_id = _create(books)["project"]["project_id"]
    assert (
        books.post(f"/projects/{project_id}/inactive").json()["message"]
        == "The selected projects have been marked as inactive."
    )
    assert [p["project_id"] for p in books.get("/projects", filter_by="Status.Inactive").json()["projects"]] == [
        project_id
    ]
    assert (
        books.put(f"/projects/{project_id}", {"project_name": "Renamed"}).json()["project"]["project_name"] == "Renamed"
    )
    assert books.delete(f"/projects/{project_id}").json()["message"] == "The project has been deleted."
    assert books.get(f"/projects/{project_id}").status_code == 404


def test_project_with_invoiced_time_cannot_be_deleted(books: BooksClient) -> None:
    line = {"name": "Work", "rate": 1, "project_id": books.ids.project, "time_entry_ids": [books.ids.entries[0]]}
    books.post("/invoices", {"customer_id": books.ids.acme, "line_items": [line]})
    refused = books.delete(f"/projects/{books.ids.project}")
    assert (refused.status_code, refused.json()["code"]) == (400, rules.CODE_NOT_ALLOWED_IN_STATE)


def test_assign_users(books: BooksClient) -> None:
    project = _create(books)["project"]
    path = f"/projects/{project['project_id']}/users"
    without_rate = books.post(path, {"users": [{"user_id": books.ids.member_user}]})
    assert without_rate.status_code == 400  # the official document requires cost_rate
    added = books.post(path, {"users": [{"user_id": books.ids.member_user, "rate": 75}], "cost_rate": "10.00"})
    assert (added.status_code, added.json()["message"]) == (201, "Users added")
    assert added.json()["users"][0]["rate"] == 75 and added.json()["users"][0]["cost_rate"] == 10
    again = books.post(path, {"users": [{"user_id": books.ids.member_user}], "cost_rate": 1})
    assert (again.status_code, again.json()["code"]) == (400, rules.CODE_DUPLICATE)
    assert {u["user_id"] for u in books.get(path).json()["users"]} == {books.ids.admin_user, books.ids.member_user}
    one = books.get(f"{path}/{books.ids.member_user}").json()["user"]
    assert one["user_name"] == "Emil Employee"
    assert books.put(f"{path}/{books.ids.member_user}", {"rate": 80}).json()["user"]["rate"] == 80
    assert books.delete(f"{path}/{books.ids.member_user}").json()["message"] == "The staff has been removed"
    assert books.get(f"{path}/{books.ids.member_user}").status_code == 404


def test_tasks_crud(books: BooksClient) -> None:
    path = f"/projects/{books.ids.project}/tasks"
    listed = books.get(path).json()
    assert {t["task_name"] for t in listed["tasks"]} == {"Design", "Build"}
    design = next(t for t in listed["tasks"] if t["task_name"] == "Design")
    assert (design["log_time"], design["un_billed_hours"], design["billed_hours"]) == ("04:30", "04:30", "00:00")
    created = books.post(path, {"task_name": "QA", "rate": 50})
    assert created.status_code == 201
    task_id = created.json()["task"]["task_id"]
    assert books.put(f"{path}/{task_id}", {"task_name": "Testing"}).json()["task"]["task_name"] == "Testing"
    assert books.post(path, {"description": "no name"}).status_code == 400
    assert books.delete(f"{path}/{task_id}").json()["message"] == "The task has been deleted successfully."
    logged = books.delete(f"{path}/{books.ids.design_task}")
    assert (logged.status_code, logged.json()["code"]) == (400, rules.CODE_NOT_ALLOWED_IN_STATE)
    assert books.get(f"/projects/{books.ids.project}/tasks/{books.ids.build_task}").json()["task"]["rate"] == 80
