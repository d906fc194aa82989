"""Time entries: who may log time where, filters, and bulk delete."""

from __future__ import annotations

from typing import Any

from sandbox.books import rules
from sandbox.world import BooksUser
from tests.sandbox.books.conftest import ORG, BooksClient


def _log(books: BooksClient, **overrides: Any) -> Any:
    body = {"project_id": books.ids.project, "task_id": books.ids.design_task, "user_id": books.ids.member_user,
            "log_date": "2023-11-14", "log_time": "02:30", "notes": "Work done"} | overrides  # fmt: skip
    return books.post("/projects/timeentries", body)


def test_log_time_and_read_it_back(books: BooksClient) -> None:
    response = _log(books)
    assert response.status_code == 201
    assert response.json()["message"] == "Your timesheet entry has been added."
    entry = response.json()["time_entry"]
    assert (entry["log_time"], entry["billed_status"], entry["invoice_id"]) == ("02:30", "unbilled", "")
    assert (entry["project_name"], entry["task_name"], entry["customer_name"]) == ("Website", "Design", "Acme Ltd")
    by_range = _log(books, log_time="", begin_time="09:00", end_time="10:15").json()["time_entry"]
    assert by_range["log_time"] == "01:15"


def test_required_fields_and_formats(books: BooksClient) -> None:
    for field in ("project_id", "task_id", "user_id", "log_date"):
        response = _log(books, **{field: ""})
        assert (response.status_code, response.json()["code"]) == (400, 2), field
        assert field in response.json()["message"]
    for bad in ({"log_date": "11-14-2023"}, {"log_time": "2.5"}, {"log_time": "25:00"}, {"task_id": "1"}):
        assert _log(books, **bad).status_code == 400, bad


def test_user_must_be_a_member_of_an_active_project(books: BooksClient) -> None:
    outsider = books.world.books_id()
    books.world.books_users[outsider] = BooksUser(outsider, ORG, "Outsider", "out@x.test")
    refused = _log(books, user_id=outsider)
    assert (refused.status_code, refused.json()["code"]) == (400, rules.CODE_NOT_ALLOWED_IN_STATE)
    # inactive users own time (Zoho's integration logs time of inactive timesheet staff), deleted ones do not
    books.post(f"/users/{books.ids.member_user}/inactive")
    assert _log(books).status_code == 201
    books.post(f"/users/{books.ids.member_user}/active")
    books.world.books_users[books.ids.member_user].status = "deleted"
    assert "deleted" in _log(books).json()["message"]
    books.world.books_users[books.ids.member_user].status = "active"
    books.post(f"/projects/{books.ids.project}/inactive")
    assert _log(books).status_code == 400
    books.post(f"/projects/{books.ids.project}/active")
    assert _log(books).status_code == 201


def test_list_filters(books: BooksClient) -> None:
    def ids(**params: str) -> set[str]:
        return {e["time_entry_id"] for e in books.get("/projects/timeentries", **params).json()["time_entries"]}

    everything = set(books.ids.entries)
    assert ids() == everything
    assert ids(project_id=books.ids.project) == everything
    assert ids(user_id=books.ids.admin_user) == {books.ids.entries[1], books.ids.entries[3]}
    assert ids(from_date="2023-11-02", to_date="2023-11-03") == set(books.ids.entries[1:3])
    assert ids(filter_by="Date.CustomDate", from_date="2023-11-05") == {books.ids.entries[4]}
    # the world's today is 2023-11-14, a Tuesday; weeks start on Sunday
    assert ids(filter_by="Date.ThisMonth") == everything
    assert ids(filter_by="Date.PreviousWeek") == {books.ids.entries[4]}
    assert ids(filter_by="Date.Today") == set()
    assert books.get("/projects/timeentries", filter_by="Date.Someday").status_code == 400
    dates = [
        e["log_date"]
        for e in books.get("/projects/timeentries", sort_column="log_date", sort_order="A").json()["time_entries"]
    ]
    assert dates == sorted(dates)
    assert books.get("/projects/timeentries", sort_column="user_name").status_code == 200


def test_non_billable_time_is_not_unbilled(books: BooksClient) -> None:
    entry = _log(books, is_billable=False).json()["time_entry"]
    unbilled = books.get("/projects/timeentries", filter_by="Status.Unbilled").json()["time_entries"]
    assert entry["time_entry_id"] not in {e["time_entry_id"] for e in unbilled}


def test_update_and_delete(books: BooksClient) -> None:
    entry_id = _log(books).json()["time_entry"]["time_entry_id"]
    updated = books.put(f"/projects/timeentries/{entry_id}", {"log_time": "03:00", "notes": "more"})
    assert updated.json()["message"] == "The timesheet's information has been updated."
    assert updated.json()["time_entry"]["log_time"] == "03:00"
    assert books.put(f"/projects/timeentries/{entry_id}", {"log_date": "bad"}).status_code == 400
    assert books.get(f"/projects/timeentries/{entry_id}").json()["time_entry"]["log_time"] == "03:00"
    assert books.delete(f"/projects/timeentries/{entry_id}").json()["message"] == "The time entry has been deleted."
    bulk = books.delete("/projects/timeentries", time_entry_ids=",".join(books.ids.entries[:2]))
    assert bulk.json()["message"] == "The selected timesheet entries have been deleted"
    assert len(books.get("/projects/timeentries").json()["time_entries"]) == 3
    assert books.delete("/projects/timeentries").status_code == 400
