"""The HTTP layer against a scripted Zoho: retries, 401 refresh, 429, malformed bodies, quotas, secrecy."""

from __future__ import annotations

import email.utils
import http.client
import logging
import time

import pytest
import requests
import urllib3.exceptions

from shared.zoho.books_api import books_error
from shared.zoho.errors import (
    AuthError,
    ConnectionFailed,
    DailyQuotaExhausted,
    MalformedResponse,
    NotFound,
    RateLimited,
    ServerError,
    ValidationFailed,
)
from shared.zoho.http import CallCounter, RetryPolicy, ZohoHttp
from shared.zoho.oauth import MemoryTokenCache, TokenProvider
from shared.zoho.projects_api import projects_error
from shared.zoho.ratelimit import Limit, MemoryLimiterBackend, RateLimiter
from tests.zoho.fakes import FakeZoho

SECRET = "client-secret-do-not-log"
REFRESH = "1000.refresh-token-do-not-log"
TOKEN_1 = "1000.access-one-do-not-log"
TOKEN_2 = "1000.access-two-do-not-log"
TOKEN_PATH = "/oauth/v2/token"


def token_answer(token: str) -> dict:
    return {"access_token": token, "api_domain": "https://zoho.test", "token_type": "Bearer", "expires_in": 3600}


@pytest.fixture
def fake() -> FakeZoho:
    fake = FakeZoho()
    fake.on("POST", TOKEN_PATH, 200, token_answer(TOKEN_1))
    return fake


def make_http(fake: FakeZoho, *, api: str = "books", limiter: RateLimiter | None = None, metrics=None) -> ZohoHttp:
    session = fake.session()
    tokens = TokenProvider(
        "https://accounts.test", "client-id", SECRET, REFRESH, cache=MemoryTokenCache(), session=session
    )
    return ZohoHttp(
        api=api,
        base_url="https://api.test",
        tokens=tokens,
        translate_error=books_error if api == "books" else projects_error,
        limiter=limiter,
        limit_key="books:1",
        session=session,
        timeout=5,
        retry=RetryPolicy(attempts=3, base_delay=0.001, sleep=lambda s: None),
        metrics=metrics,
    )


def test_get_is_retried_through_a_5xx_burst(fake: FakeZoho) -> None:
    fake.on("GET", "/contacts", 503, {"code": 1000, "message": "Internal error"})
    fake.on("GET", "/contacts", 502, None)
    fake.on("GET", "/contacts", 200, {"code": 0, "contacts": []})
    resp = make_http(fake).request("GET", "/contacts", endpoint="/contacts")
    assert resp.body == {"code": 0, "contacts": []}
    assert len(fake.calls("GET", "/contacts")) == 3


def test_get_gives_up_after_the_retry_budget(fake: FakeZoho) -> None:
    fake.on("GET", "/contacts", 500, {"code": 1000, "message": "Internal error"})
    with pytest.raises(ServerError) as err:
        make_http(fake).request("GET", "/contacts", endpoint="/contacts")
    assert err.value.retryable and err.value.status == 500 and err.value.code == 1000
    assert len(fake.calls("GET", "/contacts")) == 3


def test_post_is_never_retried_blindly(fake: FakeZoho) -> None:
    fake.on("POST", "/invoices", 503, {"code": 1000, "message": "Internal error"})
    with pytest.raises(ServerError):
        make_http(fake).request("POST", "/invoices", endpoint="/invoices", json={"customer_id": "1"})
    assert len(fake.calls("POST", "/invoices")) == 1


def test_connection_errors_retry_gets_but_not_posts(fake: FakeZoho) -> None:
    fake.raise_on("GET", "/users", requests.ConnectionError("boom"))
    fake.on("GET", "/users", 200, {"code": 0, "users": []})
    assert make_http(fake).request("GET", "/users", endpoint="/users").status == 200
    fake.raise_on("POST", "/users", requests.ReadTimeout("slow"))
    with pytest.raises(ConnectionFailed) as err:
        make_http(fake).request("POST", "/users", endpoint="/users", json={})
    assert "look the record up" in err.value.hint
    assert len(fake.calls("POST", "/users")) == 1


def test_401_refreshes_once_and_retries_once(fake: FakeZoho) -> None:
    fake.answers[("POST", TOKEN_PATH)] = [(200, token_answer(TOKEN_1), {}), (200, token_answer(TOKEN_2), {})]
    fake.on("GET", "/contacts", 401, {"code": 57, "message": "You are not authorized to perform this operation"})
    fake.on("GET", "/contacts", 200, {"code": 0, "contacts": []})
    make_http(fake).request("GET", "/contacts", endpoint="/contacts")
    auths = [c.headers["Authorization"] for c in fake.calls("GET", "/contacts")]
    assert auths == [f"Zoho-oauthtoken {TOKEN_1}", f"Zoho-oauthtoken {TOKEN_2}"]
    assert len(fake.calls("POST", TOKEN_PATH)) == 2


def test_a_second_401_is_an_auth_error_telling_to_update_credentials(fake: FakeZoho) -> None:
    fake.on("GET", "/contacts", 401, {"code": 57, "message": "You are not authorized to perform this operation"})
    with pytest.raises(AuthError) as err:
        make_http(fake).request("GET", "/contacts", endpoint="/contacts")
    assert "credentials" in err.value.hint
    assert len(fake.calls("GET", "/contacts")) == 2


def test_malformed_json_names_the_endpoint(fake: FakeZoho) -> None:
    fake.on("GET", "/restapi/portal/1/projects/", 200, b'{"projects": [{"id": 1,')
    with pytest.raises(MalformedResponse) as err:
        make_http(fake, api="projects").request(
            "GET", "/restapi/portal/1/projects/", endpoint="/restapi/portal/{portal_id}/projects/"
        )
    assert "GET /restapi/portal/{portal_id}/projects/" in str(err.value)
    assert err.value.retryable


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b'{"tasks": [{"id": 2225000000012345, "name": "Plan \\u00e9t\xc3\xa9"}]}',
            {"tasks": [{"id": 2225000000012345, "name": "Plan \u00e9t\u00e9"}]},
        ),
        # past 64 bits orjson would read a float: the id keeps every digit
        (b'{"id": 123456789012345678901234567890}', {"id": 123456789012345678901234567890}),
        (b'{"id": -9223372036854775809}', {"id": -9223372036854775809}),
        # a lone surrogate escape, which the standard library takes and orjson refuses
        (b'{"name": "half \\ud800 pair"}', {"name": "half \ud800 pair"}),
    ],
)
def test_bodies_read_as_the_standard_library_reads_them(fake: FakeZoho, raw: bytes, expected: dict) -> None:
    fake.on("GET", "/restapi/portal/1/projects/", 200, raw)
    resp = make_http(fake, api="projects").request("GET", "/restapi/portal/1/projects/", endpoint="x")
    assert resp.body == expected
    assert [type(v) for v in resp.body.values()] == [type(v) for v in expected.values()]


def test_204_is_an_empty_body(fake: FakeZoho) -> None:
    fake.on("GET", "/restapi/portal/1/projects/", 204, None)
    resp = make_http(fake, api="projects").request("GET", "/restapi/portal/1/projects/", endpoint="x")
    assert resp.status == 204 and resp.body is None


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (404, {"code": 1002, "message": "Invoice does not exist."}, NotFound),
        (400, {"code": 3062, "message": 'The customer "Acme" already exists.'}, ValidationFailed),
        (400, {"code": 6041, "message": "This user is not associated with the CompanyID"}, AuthError),
    ],
)
def test_books_errors_map_to_the_hierarchy(fake: FakeZoho, status: int, body: dict, error: type) -> None:
    fake.on("GET", "/x", status, body)
    with pytest.raises(error) as err:
        make_http(fake).request("GET", "/x", endpoint="/x")
    assert err.value.code == body["code"] and body["message"] in err.value.message


def test_projects_404_is_not_found(fake: FakeZoho) -> None:
    fake.on("GET", "/restapi/portal/1/projects/9/", 404, {"error": {"code": 6404, "message": "Project not found."}})
    with pytest.raises(NotFound) as err:
        make_http(fake, api="projects").request("GET", "/restapi/portal/1/projects/9/", endpoint="p")
    assert err.value.code == 6404 and not err.value.retryable


def test_429_raises_rate_limited_and_closes_the_key(fake: FakeZoho) -> None:
    limiter = RateLimiter(MemoryLimiterBackend(), [Limit(100, 60)], max_inline_wait=1.0)
    fake.on("GET", "/contacts", 429, {"code": 44, "message": "Too many requests"})
    http = make_http(fake, limiter=limiter)
    with pytest.raises(RateLimited) as err:
        http.request("GET", "/contacts", endpoint="/contacts")
    assert err.value.retry_at > 0 and not isinstance(err.value, DailyQuotaExhausted)
    with pytest.raises(RateLimited):  # refused locally: Zoho is not asked again inside the penalty
        http.request("GET", "/contacts", endpoint="/contacts")
    assert len(fake.calls("GET", "/contacts")) == 1


def test_daily_quota_header_at_zero_closes_the_key_until_reset(fake: FakeZoho) -> None:
    limiter = RateLimiter(MemoryLimiterBackend(), [Limit(100, 60)], max_inline_wait=1.0)
    headers = {"X-Rate-Limit-Limit": "1000", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "3600"}
    fake.on("GET", "/contacts", 200, {"code": 0, "contacts": []}, headers)
    http = make_http(fake, limiter=limiter)
    http.request("GET", "/contacts", endpoint="/contacts")  # the last allowed call succeeds
    with pytest.raises(DailyQuotaExhausted) as err:
        http.request("GET", "/contacts", endpoint="/contacts")
    assert err.value.retry_at > __import__("time").time() + 3000


def test_metrics_count_every_exchange(fake: FakeZoho) -> None:
    counter = CallCounter()
    fake.on("GET", "/contacts", 503, None)
    fake.on("GET", "/contacts", 200, {"code": 0})
    make_http(fake, metrics=counter).request("GET", "/contacts", endpoint="/contacts")
    assert counter.calls == {("books", "GET /contacts", 503): 1, ("books", "GET /contacts", 200): 1}


def test_tokens_and_secrets_never_reach_the_logs(fake: FakeZoho, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake.on("GET", "/contacts", 401, {"code": 57, "message": "not authorized"})
    fake.on("GET", "/contacts", 500, None)
    fake.on("GET", "/contacts", 200, {"code": 0})
    make_http(fake).request("GET", "/contacts", endpoint="/contacts")
    assert caplog.records, "the layer should log at DEBUG"
    for secret in (SECRET, REFRESH, TOKEN_1):
        assert secret not in caplog.text


# ---------------------------------------------------------------------------- issue 13: transient faults, 429


def test_a_malformed_body_on_a_get_is_retried_on_the_spot(fake: FakeZoho) -> None:
    fake.on("GET", "/contacts", 200, b'{"code": 0, "contacts": [{"contact_id": ')
    fake.on("GET", "/contacts", 200, b'{"code": 0, "contacts": [')  # truncated
    fake.on("GET", "/contacts", 200, {"code": 0, "contacts": []})
    assert make_http(fake).request("GET", "/contacts", endpoint="/contacts").body == {"code": 0, "contacts": []}
    assert len(fake.calls("GET", "/contacts")) == 3


def test_a_malformed_body_gives_up_after_the_retry_budget_naming_the_endpoint(fake: FakeZoho) -> None:
    fake.on("GET", "/contacts", 200, b'{"code": 0, "contacts": [')
    with pytest.raises(MalformedResponse) as err:
        make_http(fake).request("GET", "/contacts", endpoint="/contacts")
    assert err.value.retryable and "GET /contacts" in str(err.value) and "3 tries" in str(err.value)
    assert len(fake.calls("GET", "/contacts")) == 3


def test_a_malformed_answer_to_a_write_is_not_repeated(fake: FakeZoho) -> None:
    fake.on("POST", "/contacts", 201, b'{"code": 0, "contact": {')
    with pytest.raises(MalformedResponse) as err:
        make_http(fake).request("POST", "/contacts", endpoint="/contacts", json={"contact_name": "Acme"})
    assert "look the record up" in err.value.hint
    assert len(fake.calls("POST", "/contacts")) == 1


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(10 bytes read, 90 more)"),
        requests.exceptions.ContentDecodingError("Received response with content-encoding: gzip, but failed"),
        http.client.IncompleteRead(b'{"code": 0', 90),
        urllib3.exceptions.ProtocolError("Connection broken"),
    ],
)
def test_a_connection_dropped_mid_body_is_retried_on_gets_only(fake: FakeZoho, exc: Exception) -> None:
    fake.raise_on("GET", "/contacts", exc)
    fake.on("GET", "/contacts", 200, {"code": 0, "contacts": []})
    assert make_http(fake).request("GET", "/contacts", endpoint="/contacts").status == 200
    fake.raise_on("PUT", "/contacts/1", exc)
    with pytest.raises(ConnectionFailed) as err:
        make_http(fake).request("PUT", "/contacts/1", endpoint="/contacts/{id}", json={})
    assert "look the record up" in err.value.hint and len(fake.calls("PUT", "/contacts/1")) == 1


@pytest.mark.parametrize("api", ["books", "projects"])
def test_a_long_retry_after_sets_retry_at(fake: FakeZoho, api: str) -> None:
    body = {"code": 44, "message": "slow down"} if api == "books" else {"error": {"code": 6429, "message": "wait"}}
    fake.on("GET", "/x", 429, body, {"Retry-After": "120"})
    limiter = RateLimiter(MemoryLimiterBackend(), [Limit(100, 60)], max_inline_wait=5.0)
    http = make_http(fake, api=api, limiter=limiter)
    with pytest.raises(RateLimited) as err:
        http.request("GET", "/x", endpoint="/x")
    assert time.time() + 110 < err.value.retry_at < time.time() + 130  # not Books' 60 s nor Projects' 30 min
    assert len(fake.calls("GET", "/x")) == 1  # a wait longer than max_inline_wait is not slept here


def test_retry_after_as_an_http_date(fake: FakeZoho) -> None:
    when = email.utils.formatdate(time.time() + 600, usegmt=True)
    fake.on("GET", "/x", 429, {"error": {"code": 6429, "message": "wait"}}, {"retry-after": when})
    with pytest.raises(RateLimited) as err:
        make_http(fake, api="projects").request("GET", "/x", endpoint="/x")
    assert time.time() + 590 < err.value.retry_at < time.time() + 610
    assert "600 s" in err.value.hint or "599 s" in err.value.hint


@pytest.mark.parametrize("method", ["GET", "POST"])  # Zoho ran nothing it answered 429 to: a write may go again
def test_a_short_retry_after_is_waited_out_inline(fake: FakeZoho, method: str) -> None:
    slept: list[float] = []
    fake.on(method, "/invoices", 429, {"code": 44, "message": "slow down"}, {"Retry-After": "2"})
    fake.on(method, "/invoices", 200, {"code": 0, "invoices": []})
    http = make_http(fake)
    http.retry.sleep = slept.append
    assert http.request(method, "/invoices", endpoint="/invoices").status == 200
    assert len(fake.calls(method, "/invoices")) == 2 and 1.5 < max(slept) <= 2.0


def test_inline_429_waits_are_bounded(fake: FakeZoho) -> None:
    fake.on("GET", "/invoices", 429, {"code": 44, "message": "slow down"}, {"Retry-After": "1"})
    with pytest.raises(RateLimited):
        make_http(fake).request("GET", "/invoices", endpoint="/invoices")
    assert len(fake.calls("GET", "/invoices")) == 3


def test_a_worker_client_raises_even_a_short_429_at_once(fake: FakeZoho) -> None:
    slept: list[float] = []
    fake.on("GET", "/invoices", 429, {"code": 44, "message": "slow down"}, {"Retry-After": "1"})
    fake.on("GET", "/invoices", 200, {"code": 0, "invoices": []})
    http = make_http(fake)
    http.wait_out_throttling = False  # as the sync slices build it (factory: yield_when_throttled)
    http.retry.sleep = slept.append
    with pytest.raises(RateLimited) as err:
        http.request("GET", "/invoices", endpoint="/invoices")
    assert len(fake.calls("GET", "/invoices")) == 1 and slept == []
    assert time.time() < err.value.retry_at <= time.time() + 1


def test_retryable_messages_do_not_promise_a_retry(fake: FakeZoho) -> None:
    # the sync engine appends "gave up after N attempts": the error itself must not say it will be retried
    fake.on("GET", "/a", 503, {"code": 1000, "message": "Internal error"})
    fake.on("GET", "/b", 200, b"<html>")
    fake.raise_on("GET", "/c", requests.ConnectionError("down"))
    http = make_http(fake)
    for path, error in (("/a", ServerError), ("/b", MalformedResponse), ("/c", ConnectionFailed)):
        with pytest.raises(error) as err:
            http.request("GET", path, endpoint=path)
        assert "will be retried" not in str(err.value)
        assert len(fake.calls("GET", path)) == 3
