"""The request journal under /_sandbox/journal: off by default, every API request in order once started."""

from __future__ import annotations

import time

import pytest
import requests

from tests.sandbox_fixtures import MINIMAL_ORG_ID


def _journal(client, method: str = "GET") -> dict:
    answer = requests.request(method, f"{client.base}/_sandbox/journal", timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_nothing_is_recorded_until_started(platform):
    client = platform()
    client.projects()
    assert _journal(client) == {"recording": False, "entries": []}


def test_requests_are_recorded_in_order_with_query_body_status_and_a_writes_answer(platform):
    client = platform()
    assert _journal(client, "POST") == {"recording": True, "entries": []}
    client.projects("/restapi/portal/7/projects/", params={"index": 1, "range": 2})
    client.http.post(client.base + "/restapi/portal/7/projects/", data={"name": "Apollo & co"}, timeout=5)
    client.http.put(
        client.base + "/books/v3/invoices/9", params={"organization_id": MINIMAL_ORG_ID}, json={"x": 1}, timeout=5
    )
    requests.get(client.base + "/restapi/portals/", timeout=5)  # no token: refused before any route
    entries = _journal(client)["entries"]
    assert [(e["api"], e["method"], e["template"], e["status"]) for e in entries] == [
        ("projects", "GET", "/restapi/portal/{portal_id}/projects/", 200),
        ("projects", "POST", "/restapi/portal/{portal_id}/projects/", 200),
        ("books", "PUT", "/books/v3/invoices/{invoice_id}", 200),
        ("projects", "GET", "/restapi/portals/", 401),
    ]
    get, post, put, refused = entries
    # when each arrived, on the machine's clock (a benchmark splits a run's requests by its modules' times)
    assert time.time() - 60 < get["at"] <= post["at"] <= put["at"] <= refused["at"] <= time.time()
    assert (get["path"], get["query"], get["body"]) == ("/restapi/portal/7/projects/", "index=1&range=2", "")
    assert "response" not in get and "response" not in refused
    assert post["body"] == "name=Apollo+%26+co" and post["content_type"] == "application/x-www-form-urlencoded"
    assert post["response"] == client.http.post(client.base + "/restapi/portal/7/projects/", timeout=5).text
    assert put["query"] == f"organization_id={MINIMAL_ORG_ID}" and put["body"] == '{"x": 1}'
    assert put["content_type"] == "application/json" and get["content_type"] == ""
    assert _journal(client, "POST")["entries"] == []  # starting again empties it
    client.projects()
    stopped = _journal(client, "DELETE")  # answers what it held as it stops
    assert stopped["recording"] is False and [e["method"] for e in stopped["entries"]] == ["GET"]
    client.projects()
    assert _journal(client)["entries"] == []


def test_a_reset_fault_still_drops_the_connection_while_recording(platform):
    client = platform()
    _journal(client, "POST")
    added = requests.post(
        f"{client.base}/_sandbox/faults", json={"api": "projects", "kind": "reset", "count": 1}, timeout=5
    )
    assert added.status_code == 201
    with pytest.raises(requests.ConnectionError):
        client.projects()
    assert client.projects().status_code == 200
    assert [e["status"] for e in _journal(client)["entries"]] == [None, 200]
