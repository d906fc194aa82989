"""The billing ledger (shared/db/claims.py): an item is claimed by one invoice at most, under real concurrency."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from shared.clock import utcnow
from shared.db import claims
from shared.db import engine as dbengine
from shared.db.schema import billing_claims, finance_requests, integrations, transactions


@pytest.fixture
def db(pg_migrated_url):
    dbengine.upgrade(pg_migrated_url)
    engine = dbengine.make_engine(pg_migrated_url)
    now = utcnow()
    with engine.begin() as conn:
        iid = conn.execute(
            integrations.insert().values(
                name="acme",
                books_organization_id="100",
                projects_portal_id="200",
                credentials="x",
                connected_at=now,
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
    yield engine, iid
    engine.dispose()


def _request(conn, iid: int, reference: str) -> int:
    now = utcnow()
    return conn.execute(
        finance_requests.insert().values(
            integration_id=iid,
            kind="invoice",
            projects_project_id="p1",
            books_project_id="b1",
            customer_id="c1",
            reference=reference,
            created_at=now,
            updated_at=now,
        )
    ).inserted_primary_key[0]


def _claims(engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return conn.execute(sa.select(billing_claims).order_by(billing_claims.c.item_id)).all()


def test_a_second_claim_is_refused_naming_the_invoice_and_writes_nothing(db):
    engine, iid = db
    with engine.begin() as conn:
        conn.execute(
            transactions.insert().values(
                integration_id=iid,
                kind="invoice",
                books_id="inv-9",
                number="INV-000009",
                origin="books",
                created_at=utcnow(),
            )
        )
        claims.claim(conn, iid, [("time_entry", "t1"), ("time_entry", "t2")], side="books", books_invoice_id="inv-9")
    with engine.begin() as conn:
        request_id = _request(conn, iid, "BPS-1")
        with pytest.raises(claims.AlreadyClaimed) as refused:
            claims.claim(
                conn,
                iid,
                [("time_entry", "t2"), ("time_entry", "t3")],
                side="projects",
                state="pending",
                reference="BPS-1",
                request_id=request_id,
            )
        # the savepoint kept the caller's transaction usable: its request row still commits
    assert "'INV-000009' (Zoho Books)" in str(refused.value)
    assert [h.item_id for h in refused.value.holders] == ["t2"]
    assert [(r.item_id, r.books_invoice_id) for r in _claims(engine)] == [("t1", "inv-9"), ("t2", "inv-9")]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(finance_requests)).scalar() == 1


def test_two_transactions_claiming_the_same_items_at_once_leave_one_holder(db):
    engine, iid = db
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def invoice(reference: str) -> None:
        with engine.begin() as conn:
            request_id = _request(conn, iid, reference)
            barrier.wait()
            try:
                claims.claim(
                    conn,
                    iid,
                    [("time_entry", "t1"), ("expense", "e1")],
                    side="projects",
                    state="pending",
                    reference=reference,
                    request_id=request_id,
                )
                outcomes.append(f"claimed by {reference}")
            except claims.AlreadyClaimed as exc:
                outcomes.append(f"refused: {exc}")

    threads = [threading.Thread(target=invoice, args=(f"BPS-{n}",)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.split(":")[0].split(" by")[0] for o in outcomes) == ["claimed", "refused"]
    winner = next(o for o in outcomes if o.startswith("claimed")).removeprefix("claimed by ")
    assert {r.invoice_reference for r in _claims(engine)} == {winner}
    assert len(_claims(engine)) == 2
    refusal = next(o for o in outcomes if o.startswith("refused"))
    assert winner in refusal and "being sent to Zoho Books" in refusal


def test_confirm_void_and_edit_move_claims_as_books_says(db):
    engine, iid = db
    with engine.begin() as conn:
        request_id = _request(conn, iid, "BPS-7")
        claims.claim(
            conn,
            iid,
            [("time_entry", "t1"), ("time_entry", "t2")],
            side="projects",
            state="pending",
            reference="BPS-7",
            request_id=request_id,
        )
        assert claims.confirm(conn, iid, "BPS-7", "inv-7") == 2
    assert {(r.state, r.books_invoice_id) for r in _claims(engine)} == {("claimed", "inv-7")}
    with engine.begin() as conn:
        claims.claim(conn, iid, [("time_entry", "t9")], side="books", books_invoice_id="inv-8")
        # edited in Books: t2 dropped, t3 added, t9 is another invoice's (reported, never taken over)
        conflicts = claims.reclaim_invoice(
            conn, iid, "inv-7", [("time_entry", "t1"), ("time_entry", "t3"), ("time_entry", "t9")], side="books"
        )
    assert [c.books_invoice_id for c in conflicts] == ["inv-8"]
    assert {(r.item_id, r.books_invoice_id) for r in _claims(engine)} == {
        ("t1", "inv-7"),
        ("t3", "inv-7"),
        ("t9", "inv-8"),
    }
    with engine.begin() as conn:
        assert claims.release_invoice(conn, iid, "inv-7") == 2  # voided: its items are unbilled again
        claims.claim(conn, iid, [("time_entry", "t1")], side="projects", reference="BPS-8")
    assert {(r.item_id, r.invoice_reference) for r in _claims(engine)} == {("t1", "BPS-8"), ("t9", None)}


def test_a_refused_request_releases_only_its_pending_claims(db):
    engine, iid = db
    with engine.begin() as conn:
        request_id = _request(conn, iid, "BPS-3")
        claims.claim(
            conn, iid, [("task", "k1")], side="projects", state="pending", reference="BPS-3", request_id=request_id
        )
        claims.claim(conn, iid, [("task", "k2")], side="books", books_invoice_id="inv-2")
        assert claims.release_reference(conn, iid, "BPS-3") == 1
    assert [r.item_id for r in _claims(engine)] == ["k2"]
