"""The admin API under /_sandbox/: reset, state, credentials, request counts, acts, webhooks, config, clock."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator

import pytest
import requests

from sandbox.acts import ACTS, act
from sandbox.world import World
from tests.sandbox_fixtures import MINIMAL_ORG_ID, minimal_world


def _get(client, path: str) -> requests.Response:
    return requests.get(f"{client.base}/_sandbox/{path}", timeout=10)


def _post(client, path: str, body: dict) -> requests.Response:
    return requests.post(f"{client.base}/_sandbox/{path}", json=body, timeout=30)


# --------------------------------------------------------------------------------------------- counting
def test_requests_are_counted_per_api_method_and_template(platform):
    client = platform()
    client.projects("/restapi/portal/1/projects/")
    client.projects("/restapi/portal/2/projects/")
    client.http.post(client.base + "/restapi/portal/2/projects/", timeout=5)
    client.books("/books/v3/invoices/9")
    client.projects("/restapi/no/such/path")
    counts = _get(client, "requests").json()
    rows = {(r["api"], r["method"], r["path"]): r["count"] for r in counts["requests"]}
    assert rows[("projects", "GET", "/restapi/portal/{portal_id}/projects/")] == 2
    assert rows[("projects", "POST", "/restapi/portal/{portal_id}/projects/")] == 1
    assert rows[("books", "GET", "/books/v3/invoices/{invoice_id}")] == 1
    assert rows[("projects", "GET", "(unmatched)")] == 1
    assert rows[("accounts", "POST", "/oauth/v2/token")] == 1  # the fixture's token
    assert counts["by_api"] == {"projects": 4, "books": 1, "accounts": 1}
    assert counts["total"] == 6 and counts["throttled"] == 0
    assert requests.delete(f"{client.base}/_sandbox/requests", timeout=5).json()["total"] == 0
    assert client.server.app.state.counter.count("projects") == 0


# --------------------------------------------------------------------------------------------- world
def test_state_dumps_the_ground_truth(platform):
    client = platform()
    state = _get(client, "state").json()
    assert [o["organization_id"] for o in state["organizations"]] == [MINIMAL_ORG_ID]
    assert {"people", "portals", "timelogs", "invoices", "awkward"} <= set(state)


@pytest.fixture
def fake_generator(monkeypatch) -> types.ModuleType:
    """Stands in for sandbox.generator so reset's plumbing is tested on its own."""
    module = types.ModuleType("sandbox.generator")

    def generate(seed: int, size: str, clock=None) -> World:
        world = minimal_world(clock)
        world.awkward["seed"] = [str(seed), size]
        return world

    module.generate = generate
    module.credentials = lambda world: {"seed": world.awkward["seed"]}
    monkeypatch.setitem(sys.modules, "sandbox.generator", module)
    import sandbox

    monkeypatch.setattr(sandbox, "generator", module, raising=False)
    return module


def test_reset_regenerates_in_place_keeping_clock_and_config(platform, fake_generator):
    client = platform("zoho", token_ttl_seconds=77)
    world = client.server.world
    world.organizations.clear()
    answer = _post(client, "reset", {"seed": 7, "size": "tiny"})
    assert answer.json() == {"seed": 7, "size": "tiny"}
    assert client.server.world is world  # same object: holders of the world see the new data
    assert world.awkward["seed"] == ["7", "tiny"] and MINIMAL_ORG_ID in world.organizations
    assert world.clock is client.clock
    assert client.server.config.token_ttl_seconds == 77
    creds = _get(client, "credentials").json()
    assert creds == {"seed": ["7", "tiny"], "base_url": client.base}
    assert _post(client, "reset", {"seed": 1, "size": "huge"}).status_code == 400


def test_reset_is_deterministic_for_a_seed(sandbox_factory, fake_clock):
    from sandbox.generator import generate

    # timestamps are relative to the sandbox clock, so determinism holds for a clock that stands still
    server = sandbox_factory(world=generate(3, "tiny", clock=fake_clock))
    base = server.base_url
    assert requests.post(f"{base}/_sandbox/reset", json={"seed": 5, "size": "tiny"}, timeout=60).ok
    first = requests.get(f"{base}/_sandbox/state", timeout=30).json()
    assert requests.post(f"{base}/_sandbox/reset", json={"seed": 6, "size": "tiny"}, timeout=60).ok
    other = requests.get(f"{base}/_sandbox/state", timeout=30).json()
    assert requests.post(f"{base}/_sandbox/reset", json={"seed": 5, "size": "tiny"}, timeout=60).ok
    again = requests.get(f"{base}/_sandbox/state", timeout=30).json()
    assert first == again
    assert first != other
    creds = requests.get(f"{base}/_sandbox/credentials", timeout=10).json()
    assert creds["base_url"] == base


# --------------------------------------------------------------------------------------------- acts
@pytest.fixture
def test_acts(monkeypatch) -> None:
    for name in ("test.rename_org", "test.refuse"):
        monkeypatch.delitem(ACTS, name, raising=False)

    @act("test.rename_org")
    def rename(world: World, params: dict) -> dict:
        with world.lock:
            world.organizations[params["organization_id"]].name = params["name"]
        return {"organization_id": params["organization_id"]}

    @act("test.refuse")
    def refuse(world: World, params: dict) -> dict:
        raise ValueError("name must not be empty")

    yield
    ACTS.pop("test.rename_org", None)
    ACTS.pop("test.refuse", None)


def test_act_dispatch_and_its_errors(platform, test_acts):
    client = platform()
    done = _post(client, "act", {"action": "test.rename_org", "organization_id": MINIMAL_ORG_ID, "name": "New"})
    assert done.json() == {"organization_id": MINIMAL_ORG_ID}
    assert client.server.world.organizations[MINIMAL_ORG_ID].name == "New"

    unknown = _post(client, "act", {"action": "fly"})
    assert unknown.status_code == 400
    assert "unknown action 'fly'" in unknown.json()["error"] and "test.rename_org" in unknown.json()["error"]
    refused = _post(client, "act", {"action": "test.refuse"})
    assert (refused.status_code, refused.json()) == (400, {"error": "action 'test.refuse': name must not be empty"})
    missing = _post(client, "act", {"action": "test.rename_org", "organization_id": "nope", "name": "x"})
    assert missing.status_code == 400 and "nope" in missing.json()["error"]
    garbage = requests.post(f"{client.base}/_sandbox/act", data=b"{not json", timeout=5)
    assert garbage.status_code == 400 and "JSON" in garbage.json()["error"]


# --------------------------------------------------------------------------------------------- webhooks
class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


def test_webhooks_deliver_matching_events_and_record_attempts(platform, receiver, test_acts):
    client = platform()
    url, handler = receiver
    sub = _post(client, "webhooks", {"url": url, "events": ["invoice.*", "act.test.rename_org"]})
    assert sub.status_code == 201
    emit = client.server.app.state.emit
    emit("invoice.created", {"invoice_id": "46000000001"})
    emit("timelog.approved", {"id": "1"})  # nobody subscribed
    _post(client, "act", {"action": "test.rename_org", "organization_id": MINIMAL_ORG_ID, "name": "Hooked"})
    assert client.server.app.state.webhooks.wait_idle(5)
    events = [(m["event"], m["payload"]) for m in handler.received]
    assert events[0] == ("invoice.created", {"invoice_id": "46000000001"})
    assert events[1][0] == "act.test.rename_org"
    assert events[1][1]["result"] == {"organization_id": MINIMAL_ORG_ID}
    assert len(events) == 2
    assert all(m["delivered_at"].startswith("2023-11-14T") for m in handler.received)  # the sandbox clock
    listed = _get(client, "webhooks").json()
    assert listed["subscriptions"] == [sub.json()]
    assert [e["event"] for e in listed["emitted"]] == ["invoice.created", "timelog.approved", "act.test.rename_org"]
    assert [(d["event"], d["status"], d["ok"]) for d in listed["deliveries"]] == [
        ("invoice.created", 200, True),
        ("act.test.rename_org", 200, True),
    ]


def test_webhook_failures_are_recorded_not_raised(platform, receiver):
    client = platform()
    url, handler = receiver
    handler.status = 500
    _post(client, "webhooks", {"url": url, "events": ["*"]})
    _post(client, "webhooks", {"url": "http://127.0.0.1:9/closed", "events": ["*"]})
    client.server.app.state.emit("expense.created", {"expense_id": "1"})
    assert client.server.app.state.webhooks.wait_idle(5)
    deliveries = _get(client, "webhooks").json()["deliveries"]
    assert [(d["status"], d["ok"]) for d in deliveries] == [(500, False), (None, False)]
    assert deliveries[1]["error"].startswith("ConnectionError")
    assert requests.delete(f"{client.base}/_sandbox/webhooks", timeout=5).json()["subscriptions"] == []
    bad = _post(client, "webhooks", {"url": "ftp://x", "events": ["*"]})
    assert bad.status_code == 400


# --------------------------------------------------------------------------------------------- clock
def test_clock_advance_expires_tokens_over_http(platform):
    client = platform(token_ttl_seconds=3600)
    assert _post(client, "clock", {"advance_s": 3599}).ok
    assert client.projects().status_code == 200
    assert _post(client, "clock", {"advance_s": 1}).ok
    assert client.projects().status_code == 401
    assert _post(client, "clock", {"advance_s": -5}).status_code == 400


# --------------------------------------------------------------------------------------------- serve
def test_python_m_sandbox_serves_a_generated_world_until_stopped():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = ["--port", str(port), "--size", "tiny", "--seed", "2", "--rate-limits", "fast"]
    process = subprocess.Popen([sys.executable, "-m", "sandbox", *args], stderr=subprocess.PIPE)
    try:
        base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 20
        while True:
            try:
                creds = requests.get(f"{base}/_sandbox/credentials", timeout=1).json()
                break
            except requests.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.1)
        assert creds["base_url"] == base and creds["organization_ids"]
        config = requests.get(f"{base}/_sandbox/config", timeout=5).json()
        assert config["rate_limits"]["name"] == "fast"
    finally:
        process.terminate()
        process.wait(timeout=10)
