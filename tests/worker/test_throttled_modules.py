"""Modules under throttling (issue 13 item 10): an interrupted two-step write is finished by the retry, and the
clients module reads the organization's customers from Books once, however many slices its run takes.

Real Postgres, the sandbox over HTTP, a real worker; the beat's tick is a stand-in that calls the sweep.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from sandbox.generator import credentials
from sandbox.world import ClientCompany, Contact
from scheduler.embedded import running_beat
from shared.config import Settings
from shared.dispatch import sweep
from shared.zoho.books_models import Contact as BooksContact
from tests.sync_support import SyncHarness, sync_harness
from worker.modules import customer_index

# A 429 asking for a second is handed back to the sweep rather than waited out inline: each one ends the slice.
THROTTLED = {"max_inline_wait_seconds": 0, "http_retry_base_seconds": 0.01}
if "retry_backoff_seconds" in Settings.model_fields:
    THROTTLED["retry_backoff_seconds"] = 0.2
BOOKS_PAGE = 200


@pytest.fixture(autouse=True)
def _cold_worker() -> Iterator[None]:
    customer_index.forget_all()
    yield
    customer_index.forget_all()


@contextmanager
def beat(h: SyncHarness) -> Iterator[None]:
    with running_beat(lambda: sweep(h.engine, h.app, h.settings), 0.2):
        yield


def _fault(h: SyncHarness, **spec: Any) -> None:
    requests.post(f"{h.sandbox.base_url}/_sandbox/faults", json=spec, timeout=5).raise_for_status()


def _request_count(h: SyncHarness, method: str, path: str) -> int:
    rows = requests.get(f"{h.sandbox.base_url}/_sandbox/requests", timeout=10).json()["requests"]
    return sum(r["count"] for r in rows if r["api"] == "books" and r["method"] == method and r["path"] == path)


def _books_users(h: SyncHarness) -> list[dict[str, Any]]:
    org = credentials(h.sandbox.world)["organization_id"]
    return [u for u in h.state()["books_users"] if u["organization_id"] == org and u["status"] != "deleted"]


def _staff_emails(h: SyncHarness) -> set[str]:
    portal = credentials(h.sandbox.world)["portal_id"]
    users = h.state()["portal_users"]
    return {
        u["email"].lower()
        for u in users
        if u["portal_id"] == portal and u["email"] and str(u.get("role", "")).lower() != "client"
    }


@pytest.mark.parametrize("answer", [{"kind": "429", "retry_after_s": 1}, {"kind": "error5xx", "status": 500}])
def test_a_new_user_whose_inactivation_was_refused_once_ends_inactive_and_single(
    sandbox_factory, pg_migrated_url, answer
):
    sandbox = sandbox_factory(size="tiny")
    with sync_harness(sandbox, pg_migrated_url, **THROTTLED) as h, beat(h):
        known = {u["email"].lower() for u in _books_users(h)}
        missing = _staff_emails(h) - known
        assert missing, "the world must hold portal users that Books lacks"
        _fault(h, api="books", path="/books/v3/users/{user_id}/inactive", method="POST", count=1, **answer)
        run = h.sync(timeout=120)
        assert run.modules["users"].status == "succeeded", run.modules["users"].error
        users = _books_users(h)
        for email in missing:
            ours = [u for u in users if u["email"].lower() == email]
            assert len(ours) == 1, f"{email}: {ours}"  # exactly one Books user, never a second invitation
            assert ours[0]["status"] == "inactive", ours[0]  # no paid seat, even for the interrupted one
        assert run.modules["users"].created == len(missing)


def _add_clients_and_customers(h: SyncHarness, *, clients: int, customers: int) -> int:
    """Extra Projects clients (missing in Books) and Books-only customers; returns the customers Books holds."""
    world = h.sandbox.world
    creds = credentials(world)
    org, portal = creds["organization_id"], creds["portal_id"]
    with world.lock:
        base = next(c for c in world.currencies.values() if c.organization_id == org and c.is_base_currency)
        yesterday = world.now_ms() - 86_400_000
        for i in range(clients):
            client = ClientCompany(
                world.projects_id(), portal, f"Paged Client {i:03d}", f"ap@paged{i:03d}.example", base.currency_code
            )
            world.clients[client.id] = client
        for i in range(customers):
            stamp = yesterday - i * 600_000  # edited over days, like a real ledger (not all within the overlap)
            name = f"Ledger Only {i:03d}"
            contact = Contact(world.books_id(), org, name, currency_id=base.currency_id, last_modified_time=stamp)
            world.contacts[contact.contact_id] = contact
        return sum(1 for c in world.contacts.values() if c.organization_id == org and c.contact_type == "customer")


def test_the_customers_are_read_from_books_once_however_many_slices_the_clients_run_takes(
    sandbox_factory, pg_migrated_url
):
    sandbox = sandbox_factory(size="tiny")
    with sync_harness(sandbox, pg_migrated_url, slice_pages=1, **THROTTLED) as h, beat(h):
        held = _add_clients_and_customers(h, clients=250, customers=2 * BOOKS_PAGE + 50)
        full_read = math.ceil(held / BOOKS_PAGE)
        # every throttled currency read ends a slice of the clients module: more slices, same customers
        _fault(h, api="books", path="/books/v3/settings/currencies", method="GET", kind="429", retry_after_s=1, count=3)
        h.reset_requests()
        run = h.sync(timeout=180)
        clients = run.modules["clients"]
        assert clients.status in ("succeeded", "partial"), clients.error
        assert clients.created >= 250
        assert clients.throttled_calls == 3  # 3 slices ended early, on top of 3 pages of Projects clients
        lists = _request_count(h, "GET", "/books/v3/contacts")
        # one full read, then the projects module catches up with what the clients run created (newest first)
        catch_up = math.ceil((clients.created + 1) / BOOKS_PAGE)
        assert lists <= full_read + catch_up, (lists, full_read, catch_up)


class _Books:
    """Books contacts as a stub: records what each list call asked for."""

    def __init__(self, contacts: list[Any]) -> None:
        self.contacts = contacts
        self.asked: list[dict[str, Any]] = []

    def iter_contacts(self, **filters: Any) -> Iterator[Any]:
        self.asked.append(filters)
        if filters.get("sort_column") == "last_modified_time":
            return iter(sorted(self.contacts, key=lambda c: c.last_modified_time, reverse=True))
        return iter(self.contacts)


def _slice(books: _Books, token: int, module_run_id: int = 7) -> Any:
    return SimpleNamespace(
        engine=SimpleNamespace(url=SimpleNamespace(render_as_string=lambda: "stub://")),
        integration=SimpleNamespace(id=1),
        module_run=SimpleNamespace(id=module_run_id, token=token, sync_run_id=3),
        books=books,
    )


def test_a_kept_index_catches_up_only_when_another_worker_may_have_written():
    def contact(cid: str, name: str, stamp: str) -> BooksContact:
        return BooksContact(contact_id=cid, contact_name=name, last_modified_time=stamp)

    books = _Books([contact("1", "Acme Ltd", "2026-01-01T10:00:00+0000")])
    first = customer_index.books_customers(_slice(books, token=1))
    assert list(first.by_name) == ["acme"] and len(books.asked) == 1
    assert customer_index.books_customers(_slice(books, token=2)) is first
    assert len(books.asked) == 1  # the previous claim was this process's: nothing to ask Books
    # another worker held the module (tokens 3 and 4), renamed Acme and created Globex
    books.contacts = [
        contact("1", "Acme Holdings", "2026-01-02T09:00:00+0000"),
        contact("2", "Globex Inc", "2026-01-02T09:01:00+0000"),
    ]
    index = customer_index.books_customers(_slice(books, token=5))
    assert books.asked[-1] == {"contact_type": "customer", "sort_column": "last_modified_time", "sort_order": "D"}
    assert index.by_name["acme"] == [] and [c.contact_id for c in index.by_name["acme holdings"]] == ["1"]
    assert [c.contact_id for c in index.by_name["globex"]] == ["2"] and "Acme Ltd" not in index.names
    customer_index.books_customers(_slice(books, token=1, module_run_id=8))  # the next module (projects)
    assert len(books.asked) == 3  # ...catches up too, never reads the whole list again
