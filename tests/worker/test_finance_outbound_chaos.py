"""Never twice, with real processes: two `bpsync invoice` processes racing for the same items while two Celery
worker processes send, and a worker SIGKILLed 10 times at different points around the Books POST.

Kill points (cycled): ``commit`` — Books created the invoice and the worker is inside its confirming transaction
(the test holds the request's claim rows locked, so the worker waits there until killed); ``post`` — the POST is
on the wire (a latency fault: Books creates the invoice after the worker died); ``lookup`` — the look-up by
reference is on the wire, nothing was created yet. Each time a new worker takes the request after its lease
lapsed (the test sweeps like the beat's tick) and must end with exactly one Books invoice per request.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
import sqlalchemy as sa

from scheduler.finance.invoice import request_invoice
from shared import finance_requests as requests_db
from shared.db.schema import billing_claims
from tests import forked
from tests.chaos.support import kill_group, logs, start_worker, worker_env
from tests.worker.finance_support import (
    ACCOUNT,
    BOOKS_PROJECT,
    CUSTOMER,
    PAID_THROUGH,
    PROJECT,
    add_fault,
    books_records,
    claims_of,
    clear_faults,
    expense_row,
    wait_until,
)
from worker.connections import clients_for

pytestmark = [pytest.mark.slow, pytest.mark.chaos]
LEASE_SECONDS = 2.0


@pytest.fixture(name="fin")
def finance_harness(tiny_snapshot, sandbox_factory, pg_admin_engine, redis_url):
    """A synced tiny world (this test's copy of ``tiny_snapshot``); no worker runs in this process (the tests start
    worker processes)."""
    overrides = {"broker_url": redis_url, "module_lease_seconds": LEASE_SECONDS, "retry_backoff_seconds": 0.2}
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False, **overrides) as h:
        yield h


def _bpsync_invoice(h, out: list, barrier: threading.Barrier) -> None:
    env = worker_env(h.settings)
    args = ["invoice", str(h.integration.id), PROJECT, "--customer", CUSTOMER, "--wait", "--json"]
    barrier.wait()
    out.append(forked.run("scheduler.cli", args, env=env, cwd=os.getcwd(), timeout=120))


def test_two_processes_invoicing_the_same_items_make_one_invoice(fin, tmp_path):
    env = worker_env(fin.settings)
    workers = [start_worker(env, f"w{i}", tmp_path / f"w{i}.log") for i in range(2)]
    try:
        results: list = []
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=_bpsync_invoice, args=(fin, results, barrier)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(150)
        ok = [r for r in results if r.returncode == 0]
        refused = [r for r in results if r.returncode != 0]
        assert len(ok) == 1 and len(refused) == 1, [(r.returncode, r.stdout, r.stderr) for r in results]
        invoice = json.loads(ok[0].stdout)
        assert invoice["state"] == "confirmed"
        # the refusal names the invoice holding the items: its reference while being sent, its number after
        assert "already billed by invoice" in refused[0].stderr
        assert invoice["reference"] in refused[0].stderr or invoice["number"] in refused[0].stderr
        invoices = [i for i in fin.state()["invoices"] if i["reference_number"].startswith("BPS-")]
        assert len(invoices) == 1
        assert {c.books_invoice_id for c in claims_of(fin)} == {invoice["books_id"]}
    finally:
        for w in workers:
            kill_group(w)


def _new_expense(fin, n: int) -> str:
    books = clients_for(fin.settings, fin.integration)[1]
    expense = books.create_expense(
        {"account_id": ACCOUNT, "paid_through_account_id": PAID_THROUGH, "date": "2026-11-20", "amount": 10 + n,
         "customer_id": CUSTOMER, "project_id": BOOKS_PROJECT, "is_billable": True, "description": f"kill {n}"}
    )  # fmt: skip
    expense_row(fin, expense.expense_id, BOOKS_PROJECT, CUSTOMER, str(10 + n))
    return expense.expense_id


def _state(fin, request_id: int) -> str:
    with fin.engine.connect() as conn:
        request = requests_db.get(conn, request_id)
    assert request is not None
    return request.state


def test_sigkill_around_the_books_post_never_makes_a_second_invoice(fin, tmp_path):
    env = worker_env(fin.settings)
    kinds = ("commit", "post", "lookup")
    made: list[requests_db.FinanceRequest] = []
    # a worker process start-up is ~1.5 CPU-seconds: the worker that recovered one request takes the next one when
    # the kill point is a Books call (its fault is set before the request); a "commit" kill needs the request's claim
    # rows locked before any worker takes it, so that round starts a new worker after the lock
    worker = None
    try:
        for n in range(10):
            kind = kinds[n % 3]
            expense_id = _new_expense(fin, n)
            if kind == "commit" and worker is not None:
                kill_group(worker)
                worker = None
            if kind == "post":
                add_fault(fin, api="books", kind="latency", latency_ms=1500, path="/books/v3/invoices",
                          method="POST", count=1)  # fmt: skip
            elif kind == "lookup":
                add_fault(fin, api="books", kind="latency", latency_ms=1500, path="/books/v3/invoices",
                          method="GET", count=1)  # fmt: skip
            request = request_invoice(fin.engine, fin.settings, fin.app, fin.integration.id, PROJECT,
                                      customer_id=CUSTOMER)  # fmt: skip
            lock = None
            if kind == "commit":  # the confirming transaction waits on these rows until the kill
                lock = fin.engine.connect()
                lock.begin()
                lock.execute(
                    sa.select(billing_claims.c.id).where(billing_claims.c.invoice_reference == request.reference)
                    .with_for_update()
                ).all()  # fmt: skip
            if worker is None:
                worker = start_worker(env, f"k{n}", tmp_path / f"k{n}.log")
            if kind == "commit":
                assert wait_until(lambda r=request: books_records(fin, "invoices", r.reference), 30), logs(tmp_path)
                time.sleep(0.2 + 0.1 * n)  # blocked in the confirming transaction
            else:
                assert wait_until(lambda r=request: _state(fin, r.id) == "sending", 30), logs(tmp_path)
                time.sleep(0.2 + 0.05 * n)
            kill_group(worker)
            if lock is not None:
                lock.rollback()
                lock.close()
            clear_faults(fin)
            assert _state(fin, request.id) == "sending"
            worker = start_worker(env, f"r{n}", tmp_path / f"r{n}.log")
            # the beat's tick: the killed worker's lease lapses, the sweep sends the request again
            assert wait_until(
                lambda r=request: (
                    requests_db.sweep(fin.engine, fin.app, fin.settings) is not None
                    and _state(fin, r.id) == "confirmed"
                ),
                60,
                interval=0.3,
            ), logs(tmp_path)
            with fin.engine.connect() as conn:
                done = requests_db.get(conn, request.id)
            assert done is not None and done.attempts >= 2, (kind, done)
            [invoice] = books_records(fin, "invoices", done.reference)
            assert invoice["invoice_id"] == done.books_id
            assert {line.get("expense_id") for line in invoice["line_items"]} >= {expense_id}
            made.append(done)
    finally:
        if worker is not None:
            kill_group(worker)
        clear_faults(fin)
    invoices = [i for i in fin.state()["invoices"] if i["reference_number"].startswith("BPS-")]
    assert sorted(i["reference_number"] for i in invoices) == sorted(r.reference for r in made)
    claims = claims_of(fin)
    assert {c.state for c in claims} == {"claimed"} and all(c.side == "projects" for c in claims)
    by_request = {r.id: r.books_id for r in made}
    assert all(c.books_invoice_id == by_request[c.request_id] for c in claims)
    assert len([c for c in claims if c.item_type == "expense"]) == 10
