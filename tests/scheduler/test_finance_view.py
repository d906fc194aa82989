"""The Finance view and the create paths through the CLI (real `bpsync` processes, forked from a server that
imported their libraries: tests/forked.py), the JSON API and the web page.

A tiny world synced into Postgres; a Redis broker; the harness's worker sends what the CLI, API and forms ask for.
"""

from __future__ import annotations

import json
import os

import pytest
import requests
from starlette.testclient import TestClient

from scheduler.web.app import create_web_app
from shared import finance_requests as requests_db
from tests import forked
from tests.chaos.support import worker_env
from tests.worker.finance_support import (
    ACCOUNT,
    CUSTOMER,
    OTHER_CURRENCY_CUSTOMER,
    PAID_THROUGH,
    PROJECT,
    PROJECT_ENTRIES,
    books_records,
)

pytestmark = pytest.mark.slow
TOKEN = "finance-test-token"


@pytest.fixture(name="fin")
def finance_harness(tiny_snapshot, sandbox_factory, pg_admin_engine, redis_url):
    """This test's copy of the tiny world ``tiny_snapshot`` synced once per process."""
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, broker_url=redis_url, web_token=TOKEN) as h:
        yield h


def bpsync(h, *args, timeout=90):
    """``python -m scheduler.cli *args``, forked from a server that imported its libraries (tests/forked.py)."""
    return forked.run("scheduler.cli", list(args), env=worker_env(h.settings), cwd=os.getcwd(), timeout=timeout)


@pytest.mark.slow(seconds=18)  # a bpsync command after another
def test_cli_draft_customer_pick_invoice_and_finance_view(fin):
    iid = str(fin.integration.id)
    before = bpsync(fin, "finance", iid, PROJECT, "--json")
    assert before.returncode == 0, before.stderr
    view = json.loads(before.stdout)
    assert view["unbilled_time"]["entries"] == len(PROJECT_ENTRIES)
    assert view["unbilled_time"]["hours"] == pytest.approx(4 + 8 + 2 + 0.75)
    assert view["project"]["customer_id"] == CUSTOMER and view["transactions"] == []

    draft = bpsync(fin, "invoice", iid, PROJECT)
    assert draft.returncode == 0, draft.stderr
    assert "waits for its customer" in draft.stdout and f"bpsync invoice-customer {iid}" in draft.stdout
    request_id = draft.stdout.split("#", 1)[1].split()[0]
    listed = json.loads(bpsync(fin, "customers", iid, "--json").stdout)["customers"]
    assert CUSTOMER in {c["customer_id"] for c in listed}

    wrong = bpsync(fin, "invoice-customer", iid, request_id, OTHER_CURRENCY_CUSTOMER)
    assert wrong.returncode == 1 and "bills in" in wrong.stderr
    picked = bpsync(fin, "invoice-customer", iid, request_id, CUSTOMER, "--wait", "--json")
    assert picked.returncode == 0, picked.stderr + picked.stdout
    answer = json.loads(picked.stdout)
    assert answer["state"] == "confirmed" and answer["number"].startswith("INV-")

    expense = bpsync(fin, "expense", iid, PROJECT, "--amount", "80", "--date", "2026-11-27", "--account", ACCOUNT,
                     "--paid-through", PAID_THROUGH, "--description", "Train", "--wait")  # fmt: skip
    assert expense.returncode == 0 and "created in Zoho Books" in expense.stdout, expense.stderr
    text = bpsync(fin, "finance", iid, PROJECT)
    assert answer["number"] in text.stdout and "Unbilled time: 0 entries" in text.stdout
    assert "Unbilled expenses: 1, 80.00" in text.stdout
    after = json.loads(bpsync(fin, "finance", iid, PROJECT, "--json").stdout)
    assert {t["kind"] for t in after["transactions"]} == {"invoice", "expense"}
    assert after["unbilled_expenses"]["amount"] == 80.0 and after["totals"]["unbilled"] == 80.0

    for args, message in [
        (("invoice", iid, "999", "--customer", CUSTOMER), "not a synced project"),
        (("invoice", iid, PROJECT, "--customer", CUSTOMER, "--task", "1", "--milestone", "2"), "at most one"),
        (("invoice", iid, PROJECT, "--customer", CUSTOMER, "--due-date", "soon"), "due_date: 'soon' is not a date"),
        (("expense", iid, PROJECT, "--amount", "-5", "--account", ACCOUNT, "--paid-through", PAID_THROUGH),
         "amount: must be more than 0"),
        (("quote", iid, PROJECT, "--line", "Design:-3"), "rate: must be at least 0"),
    ]:  # fmt: skip
        refused = bpsync(fin, *args)
        assert refused.returncode == 1 and message in refused.stderr, (args, refused.stderr)


def test_api_and_web_page(fin):
    iid = fin.integration.id
    base = f"/api/integrations/{iid}/projects/{PROJECT}/finance"
    with TestClient(create_web_app(fin.settings, celery=fin.app), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        view = c.get(base).json()
        assert view["unbilled_time"]["entries"] == len(PROJECT_ENTRIES)
        assert c.get(f"/api/integrations/{iid}/projects/999/finance").status_code == 404

        bad = c.post(f"{base}/invoice", json={"customer_id": CUSTOMER, "date": "2026-02-30"})
        assert bad.status_code == 400 and "date: '2026-02-30' is not a date" in bad.json()["error"]
        assert c.post(f"{base}/expense", json={"amount": 5}).status_code == 400
        assert "unknown field" in c.post(f"{base}/quote", json={"colour": "red"}).json()["error"]
        quote = c.post(f"{base}/quote", json={"line_items": [{"name": "Design", "rate": 900, "quantity": 2}]})
        assert quote.status_code == 202, quote.text
        draft = c.post(f"{base}/invoice", json={})
        assert draft.status_code == 202 and draft.json()["state"] == "draft" and "customer" in draft.json()["next"]

        page = c.get(f"/integrations/{iid}/projects/{PROJECT}/finance")
        assert page.status_code == 200 and "New invoice" in page.text and "choose a Books customer" in page.text
        assert f"/projects/{PROJECT}/finance" in c.get(f"/integrations/{iid}/projects/{PROJECT}").text
        picked = c.post(
            f"/integrations/{iid}/finance/requests/{draft.json()['id']}/customer",
            data={"customer_id": CUSTOMER},
            follow_redirects=False,
        )
        assert picked.status_code == 303 and "notice=" in picked.headers["location"]
        done = requests_db.wait(fin.engine, draft.json()["id"], timeout=30)
        assert done.state == "confirmed", done.error
        assert requests_db.wait(fin.engine, quote.json()["id"], timeout=30).state == "confirmed"

        form = c.post(
            f"/integrations/{iid}/projects/{PROJECT}/finance/recurring_invoice",
            data={"name": "Support", "frequency": "months", "repeat_every": "1", "line_items": "Support:250\n"},
            follow_redirects=False,
        )
        assert form.status_code == 303, form.text
        refused = c.post(f"/integrations/{iid}/projects/{PROJECT}/finance/invoice", data={"customer_id": CUSTOMER})
        assert refused.status_code == 409 and "nothing to invoice" in refused.text

        view = c.get(base).json()
        kinds = {t["kind"] for t in view["transactions"]}
        assert {"invoice", "quote"} <= kinds
        assert view["totals"]["quoted"] == 1800.0 and view["unbilled_time"]["entries"] == 0
        [invoice] = books_records(fin, "invoices", done.reference)
        assert invoice["customer_id"] == CUSTOMER


def test_web_forms_pick_customers_and_accounts_and_say_when_books_cannot_be_read(fin):
    iid = fin.integration.id
    base = f"/api/integrations/{iid}/projects/{PROJECT}/finance"
    page_url = f"/integrations/{iid}/projects/{PROJECT}/finance"
    with TestClient(create_web_app(fin.settings, celery=fin.app), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        expense = c.post(f"{base}/expense", json={"amount": 12, "account_id": ACCOUNT, "paid_through_account_id":
                                                 PAID_THROUGH, "description": "Parking"})  # fmt: skip
        assert expense.status_code == 202, expense.text
        assert requests_db.wait(fin.engine, expense.json()["id"], timeout=30).state == "confirmed"

        page = c.get(page_url).text
        # customers: a select list read from Books, the project's customer preselected; no id typed by hand
        assert '<select name="customer_id">' in page and 'name="customer_id" value=' not in page
        assert f'<option value="{CUSTOMER}" selected>' in page and "the project's customer" in page
        assert f'<option value="{OTHER_CURRENCY_CUSTOMER}"' not in page  # another currency: it would be refused
        # accounts: the ones this organization's expenses used, offered in the expense form
        assert f'<datalist id="account_id-choices"><option value="{ACCOUNT}">' in page
        assert f'<datalist id="paid_through_account_id-choices"><option value="{PAID_THROUGH}">' in page

        # Books cannot be read: the page says why and the forms take the customer id as text
        response = requests.post(
            f"{fin.sandbox.base_url}/_sandbox/faults",
            json={"api": "books", "kind": "error5xx", "status": 503, "path": "/books/v3/contacts"},
            timeout=10,
        )
        assert response.status_code == 201
        down = c.get(page_url)
        assert down.status_code == 200 and "customers could not be read" in down.text
        assert '<select name="customer_id">' not in down.text and 'name="customer_id" value=' in down.text
