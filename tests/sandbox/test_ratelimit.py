"""Rate limits as Zoho enforces them: Books per-minute and daily caps per organization with X-Rate-Limit
headers; Projects rolling 2-minute window per user with a 30-minute lockout. Time moves on a fake clock."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import time

import requests

from sandbox.world import Organization
from tests.sandbox_fixtures import MINIMAL_ADMIN_ZUID, MINIMAL_MEMBER_REFRESH, access_token

BOOKS_MINUTE = 44
BOOKS_DAY = 45


def _burst(call, n: int) -> list[int]:
    return [call().status_code for _ in range(n)]


def test_books_allows_exactly_100_per_minute_per_org_then_429_code_44(platform):
    client = platform("zoho")
    assert _burst(client.books, 100) == [200] * 100
    refused = client.books()
    assert refused.status_code == 429
    assert refused.json()["code"] == BOOKS_MINUTE
    client.clock.advance(59.9)
    assert client.books().status_code == 429  # rolling: the first 100 are still inside the minute
    client.clock.advance(0.1)
    assert _burst(client.books, 100) == [200] * 100  # refused calls did not count
    assert client.books().status_code == 429


def test_books_window_is_per_organization(platform):
    client = platform("zoho")
    other = Organization(organization_id="60000000002", name="Other", email="o@example.com")
    other.member_zuids = [MINIMAL_ADMIN_ZUID]
    client.server.world.organizations[other.organization_id] = other
    assert _burst(client.books, 101)[-1] == 429
    assert client.books(params={"organization_id": other.organization_id}).status_code == 200


def test_books_daily_cap_code_45_and_rate_limit_headers(platform):
    client = platform("zoho", token_ttl_seconds=2 * 86400)
    org = next(iter(client.server.world.organizations.values()))
    org.daily_limit = 5
    midnight = dt.datetime.fromtimestamp(client.clock(), tz=dt.UTC).replace(hour=0, minute=0, second=0)
    seconds_to_reset = int((midnight + dt.timedelta(days=1)).timestamp() - client.clock())
    remaining = []
    for _ in range(5):
        answer = client.books()
        assert answer.status_code == 200
        assert answer.headers["X-Rate-Limit-Limit"] == "5"
        assert answer.headers["X-Rate-Limit-Reset"] == str(seconds_to_reset)
        remaining.append(answer.headers["X-Rate-Limit-Remaining"])
    assert remaining == ["4", "3", "2", "1", "0"]
    refused = client.books()
    assert (refused.status_code, refused.json()["code"]) == (429, BOOKS_DAY)
    assert refused.headers["X-Rate-Limit-Remaining"] == "0"
    client.clock.advance(3600)
    assert client.books().status_code == 429  # still the same UTC day
    client.clock.advance(seconds_to_reset - 3600)
    assert client.books().status_code == 200


def test_books_headers_are_sent_even_when_limits_are_off(platform):
    client = platform("off")
    assert _burst(client.books, 150) == [200] * 150
    assert client.books().headers["X-Rate-Limit-Remaining"] == str(1000 - 151)


def test_projects_rolling_window_of_100_per_two_minutes(platform):
    client = platform("zoho")
    assert _burst(client.projects, 50) == [200] * 50
    client.clock.advance(60)
    assert _burst(client.projects, 50) == [200] * 50
    client.clock.advance(60.5)  # the first 50 left the window, the last 50 are still in it
    assert _burst(client.projects, 50) == [200] * 50


def test_projects_101st_call_locks_the_user_out_for_30_minutes(platform):
    client = platform("zoho")
    assert _burst(client.projects, 100) == [200] * 100
    refused = client.projects()
    assert refused.status_code == 429
    assert set(refused.json()) == {"error"} and {"code", "message"} <= set(refused.json()["error"])
    client.clock.advance(121)  # the window is over, the lockout is not
    assert client.projects().status_code == 429
    client.clock.advance(1800 - 121 - 1)
    assert client.projects().status_code == 429
    # another user of the same portal is not locked out
    member = requests.get(
        client.base + "/restapi/portals/",
        headers={"Authorization": f"Zoho-oauthtoken {access_token(client.base, MINIMAL_MEMBER_REFRESH)}"},
        timeout=5,
    )
    assert member.status_code == 200
    client.clock.advance(1)
    assert _burst(client.projects, 100) == [200] * 100


def test_fast_preset_compresses_windows_but_keeps_quotas(platform):
    client = platform("fast")
    assert _burst(client.books, 100) == [200] * 100
    assert client.books().status_code == 429
    client.clock.advance(1)
    assert client.books().status_code == 200
    assert _burst(client.projects, 101)[-1] == 429
    client.clock.advance(29)
    assert client.projects().status_code == 429
    client.clock.advance(1)
    assert client.projects().status_code == 200


def test_429s_are_counted_and_config_switch_applies_live(platform):
    client = platform("off")
    assert _burst(client.projects, 120) == [200] * 120
    switched = requests.post(f"{client.base}/_sandbox/config", json={"rate_limits": "zoho"}, timeout=5)
    assert switched.json()["rate_limits"]["projects_per_window"] == 100
    assert _burst(client.projects, 102)[-2:] == [429, 429]
    counts = requests.get(f"{client.base}/_sandbox/requests", timeout=5).json()
    assert counts["throttled"] == 2
    assert counts["throttled_by_api"] == {"projects": 2}
    assert counts["statuses"]["projects"] == {"200": 220, "429": 2}


def test_books_caps_calls_in_flight_per_org_by_plan_code_1070(platform):
    client = platform("zoho")
    org = next(iter(client.server.world.organizations.values()))
    org.plan_name = "FREE"  # 5 concurrent calls
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        url, options = _slow_call(client)
        slow = [pool.submit(requests.get, url, **options) for _ in range(5)]
        time.sleep(0.2)  # the five are inside the route now
        refused = client.books()
        assert [f.result().status_code for f in slow] == [200] * 5
    assert (refused.status_code, refused.json()["code"]) == (429, 1070)
    assert client.books().status_code == 200  # finished calls free their slots


def _slow_call(client) -> tuple[str, dict]:
    from tests.sandbox_fixtures import MINIMAL_ORG_ID

    url = f"{client.base}/books/v3/slow?organization_id={MINIMAL_ORG_ID}&sleep=0.6"
    return url, {"headers": {"Authorization": f"Zoho-oauthtoken {client.token}"}, "timeout": 5}
