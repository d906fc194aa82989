"""The OpenAPI check itself: it must reject what Zoho's documents forbid, or every schema test is hollow."""

from __future__ import annotations

import json

import pytest
import requests
from openapi_core.validation.response.exceptions import InvalidData

from tests.sandbox.books import spec_check


def _response(path: str, body: dict, status: int = 200) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json"
    response.request = requests.Request("GET", f"http://127.0.0.1:1/books/v3{path}?organization_id=1").prepare()
    return response


def test_a_number_where_the_document_says_string_is_rejected() -> None:
    with pytest.raises(InvalidData):
        spec_check.check_response(
            _response("/contacts", {"code": 0, "message": "success", "contacts": [{"contact_id": 5}]})
        )


def test_corrections_apply_only_where_listed() -> None:
    ok = {"code": 0, "message": "success", "invoices": [{"invoice_id": "1", "total": 10.5, "balance": 0}],
          "page_context": {"page": 1, "per_page": 200, "has_more_page": False}}  # fmt: skip
    spec_check.check_response(_response("/invoices", ok))
    with pytest.raises(InvalidData):  # page_context stays an object, not the document's array
        spec_check.check_response(_response("/invoices", ok | {"page_context": [ok["page_context"]]}))


def test_time_entries_are_checked_against_their_own_document() -> None:
    assert spec_check.spec_file_for("/projects/timeentries/12") == "time-entries.yml"
    assert spec_check.spec_file_for("/projects/12/tasks") == "tasks.yml"
    assert spec_check.spec_file_for("/projects/12/users") == "projects.yml"


def test_error_responses_are_not_schema_checked() -> None:
    spec_check.check_response(_response("/contacts/1", {"code": 1002, "message": "Contact does not exist."}, 404))
