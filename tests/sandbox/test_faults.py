"""Fault injection through ``/_sandbox/faults``: each kind, matching by API/path/method, count, rate, duration."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.sandbox_fixtures import MINIMAL_ADMIN_REFRESH, MINIMAL_CLIENT_ID, MINIMAL_CLIENT_SECRET, access_token


def _fault(client, **spec) -> dict:
    answer = requests.post(f"{client.base}/_sandbox/faults", json=spec, timeout=5)
    assert answer.status_code == 201, answer.text
    return answer.json()["added"][0]


def test_error5xx_burst_by_count_hits_only_the_chosen_api(platform):
    client = platform()
    _fault(client, api="books", kind="error5xx", status=503, count=3)
    assert client.projects().status_code == 200
    answers = [client.books() for _ in range(4)]
    assert [a.status_code for a in answers] == [503, 503, 503, 200]
    assert answers[0].json() == {"code": 1000, "message": "Internal error"}
    _fault(client, api="projects", kind="error5xx", count=1)
    failed = client.projects()
    assert failed.status_code == 500 and failed.json()["error"]["code"] == 6500


def test_path_template_and_method_select_requests(platform):
    client = platform()
    _fault(client, api="projects", path="/restapi/portal/{portal_id}/projects/", method="post", kind="429")
    assert client.projects("/restapi/portal/1/projects/").status_code == 200  # GET: other method
    posted = client.http.post(client.base + "/restapi/portal/1/projects/", timeout=5)
    assert posted.status_code == 429 and "error" in posted.json()
    assert client.http.post(client.base + "/restapi/portal/1/projects/", timeout=5).status_code == 429
    assert client.projects("/restapi/portals/").status_code == 200
    counts = requests.get(f"{client.base}/_sandbox/requests", timeout=5).json()
    assert counts["throttled"] == 2


def test_429_fault_uses_the_apis_throttle_envelope(platform):
    client = platform()
    _fault(client, api="books", kind="429", count=1)
    throttled = client.books()
    assert throttled.status_code == 429 and throttled.json()["code"] == 44


def test_malformed_and_truncated_bodies(platform):
    client = platform()
    whole = client.books().content
    _fault(client, api="books", kind="malformed", count=1)
    malformed = client.books()
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.content)
    _fault(client, api="books", kind="truncated", count=1)
    truncated = client.books()
    assert truncated.status_code == 200
    assert truncated.content == whole[: len(whole) // 2]
    assert truncated.headers["Content-Length"] == str(len(whole) // 2)
    assert client.books().content == whole


def test_429_fault_can_say_when_to_come_back(platform):
    client = platform()
    _fault(client, api="projects", kind="429", retry_after_s=3, count=1)
    throttled = client.projects()
    assert throttled.status_code == 429 and throttled.json()["error"]["code"] == 6429
    assert throttled.headers["Retry-After"] == "3"
    _fault(client, api="books", kind="429", count=1)
    assert "Retry-After" not in client.books().headers  # Zoho documents none: only sent when asked for


def test_organization_id_throttles_one_books_organization_and_serves_the_others(platform):
    client = platform()
    _fault(client, api="books", kind="429", organization_id="111222333", retry_after_s=1)
    throttled = client.books(params={"organization_id": "111222333"})
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    assert client.books().status_code == 200  # another organization of the same sandbox
    assert client.projects().status_code == 200


def test_429_with_retry_after_at_a_rate(platform):
    client = platform()
    _fault(client, api="books", kind="429", retry_after_s=1, rate=0.05)
    answers = [client.books() for _ in range(200)]
    throttled = [a for a in answers if a.status_code == 429]
    assert 3 <= len(throttled) <= 20 and all(a.headers["Retry-After"] == "1" for a in throttled)


def test_cut_announces_the_whole_body_then_drops_the_connection(platform):
    client = platform()
    _fault(client, api="books", kind="cut", count=1)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        client.books()
    assert client.books().status_code == 200  # a new connection works


def test_reset_drops_the_connection_without_an_answer(platform):
    client = platform()
    _fault(client, api="projects", kind="reset", count=1)
    with pytest.raises(requests.ConnectionError):
        client.projects()
    assert client.projects().status_code == 200  # a new connection works


def test_latency_delays_the_answer(platform):
    client = platform()
    _fault(client, api="books", kind="latency", latency_ms=300, count=1)
    started = time.monotonic()
    assert client.books().status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    client.books()
    assert time.monotonic() - started < 0.3


def test_expire_token_fault_makes_the_request_401_until_refreshed(platform):
    client = platform()
    _fault(client, api="books", kind="expire_token", count=1)
    assert client.books().status_code == 401
    assert client.projects().status_code == 401  # the same token is expired everywhere
    client.http.headers["Authorization"] = f"Zoho-oauthtoken {access_token(client.base)}"
    assert client.books().status_code == 200


def test_revoke_token_fault_also_kills_the_refresh_token(platform):
    client = platform()
    _fault(client, api="projects", kind="revoke_token", count=1)
    assert client.projects().status_code == 401
    refresh = requests.post(
        f"{client.base}/oauth/v2/token",
        params={
            "grant_type": "refresh_token",
            "client_id": MINIMAL_CLIENT_ID,
            "client_secret": MINIMAL_CLIENT_SECRET,
            "refresh_token": MINIMAL_ADMIN_REFRESH,
        },
        timeout=5,
    )
    assert refresh.json() == {"error": "invalid_code"}


def test_accounts_faults_hit_the_token_endpoint(platform):
    client = platform()
    _fault(client, api="accounts", kind="error5xx", status=502, count=1)
    answer = requests.post(f"{client.base}/oauth/v2/token", params={"grant_type": "refresh_token"}, timeout=5)
    assert answer.status_code == 502
    assert access_token(client.base)


def test_rate_is_seeded_so_runs_repeat(platform):
    patterns = []
    for _ in range(2):
        client = platform()
        _fault(client, api="books", kind="error5xx", rate=0.3)
        patterns.append([client.books().status_code for _ in range(100)])
    assert patterns[0] == patterns[1]
    assert 10 < patterns[0].count(500) < 50


def test_duration_uses_the_sandbox_clock_and_admin_lists_and_clears(platform):
    client = platform()
    _fault(client, api="*", kind="error5xx", duration_s=10)
    assert client.books().status_code == 500 and client.projects().status_code == 500
    listed = requests.get(f"{client.base}/_sandbox/faults", timeout=5).json()["faults"]
    assert [(f["kind"], f["fired"]) for f in listed] == [("error5xx", 2)]
    client.clock.advance(10)
    assert client.books().status_code == 200
    _fault(client, kind="error5xx")
    assert requests.delete(f"{client.base}/_sandbox/faults", timeout=5).json() == {"faults": []}
    assert client.books().status_code == 200


def test_bad_fault_specs_are_rejected_with_the_reason(platform):
    client = platform()
    for spec, words in (
        ({"kind": "explode"}, "kind must be one of"),
        ({"kind": "error5xx", "status": 404}, "status must be one of"),
        ({"kind": "429", "api": "crm"}, "api must be one of"),
        ({"kind": "429", "rate": 2}, "rate must be between"),
        ({"kind": "error5xx", "retry_after_s": 5}, "retry_after_s must be"),
        ({"kind": "429", "retry_after_s": -1}, "retry_after_s must be"),
    ):
        answer = requests.post(f"{client.base}/_sandbox/faults", json=spec, timeout=5)
        assert answer.status_code == 400 and words in answer.json()["error"]
