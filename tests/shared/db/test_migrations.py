"""Migrations and the constraints that make the product correct, on PostgreSQL and on SQLite."""

import datetime as dt

import pytest
import sqlalchemy as sa

from shared.db import engine as dbengine
from shared.db.schema import billing_claims, entity_links, integrations, metadata

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(params=["postgres", "sqlite"])
def empty_db_url(request) -> str:
    return request.getfixturevalue("pg_url" if request.param == "postgres" else "sqlite_url")


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(dbengine.normalize_url(url), poolclass=sa.pool.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_to_head_and_back_down(empty_db_url):
    dbengine.upgrade(empty_db_url)
    assert set(metadata.tables) <= table_names(empty_db_url)
    dbengine.downgrade(empty_db_url, "base")
    assert table_names(empty_db_url) <= {"alembic_version"}


def test_migrated_schema_matches_the_code(empty_db_url):
    """Autogenerate finds nothing to do: schema.py and the migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    dbengine.upgrade(empty_db_url)
    engine = sa.create_engine(dbengine.normalize_url(empty_db_url), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_app_refuses_an_unmigrated_database(empty_db_url):
    with pytest.raises(dbengine.SchemaNotReady, match="run: bpsync db upgrade"):
        dbengine.require_schema(empty_db_url)
    dbengine.upgrade(empty_db_url)
    assert dbengine.require_schema(empty_db_url) is not None


def _integration(conn: sa.Connection) -> int:
    return conn.execute(
        integrations.insert().values(
            name="acme",
            books_organization_id="100",
            projects_portal_id="200",
            credentials="x",
            connected_at=NOW,
            created_at=NOW,
            updated_at=NOW,
        )
    ).inserted_primary_key[0]


def _link(integration_id: int, projects_id: str, books_id: str | None, entity_type: str = "project") -> sa.Insert:
    return entity_links.insert().values(
        integration_id=integration_id,
        entity_type=entity_type,
        projects_id=projects_id,
        books_id=books_id,
        created_at=NOW,
    )


def test_a_projects_id_links_to_one_books_id_and_back(empty_db_url):
    dbengine.upgrade(empty_db_url)
    engine = dbengine.make_engine(empty_db_url)
    with engine.begin() as conn:
        iid = _integration(conn)
        conn.execute(_link(iid, "p1", "b1"))
        # two pending links (books_id NULL) never collide
        conn.execute(_link(iid, "p2", None))
        conn.execute(_link(iid, "p3", None))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(_link(iid, "p1", "b2"))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(_link(iid, "p9", "b1"))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(entity_links)).scalar() == 3


def test_merged_clients_may_share_one_books_customer(empty_db_url):
    dbengine.upgrade(empty_db_url)
    engine = dbengine.make_engine(empty_db_url)
    with engine.begin() as conn:
        iid = _integration(conn)
        conn.execute(_link(iid, "c1", "contact-9", "client"))
        conn.execute(_link(iid, "c2", "contact-9", "client"))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(_link(iid, "c1", "contact-10", "client"))  # a client still links to one customer


def test_a_books_task_is_the_target_of_one_task_or_bug(empty_db_url):
    # the tasks and bugs modules run at once and both write Books tasks (migration 0008)
    dbengine.upgrade(empty_db_url)
    engine = dbengine.make_engine(empty_db_url)
    with engine.begin() as conn:
        iid = _integration(conn)
        conn.execute(_link(iid, "t1", "books-task-1", "task"))
        conn.execute(_link(iid, "p1", "books-task-1", "project"))  # another kind of record: another id space
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(_link(iid, "b1", "books-task-1", "bug"))
    with engine.begin() as conn:
        conn.execute(_link(iid, "b1", "books-task-2", "bug"))
    dbengine.downgrade(empty_db_url, "0007")
    with engine.begin() as conn:  # before 0008 only a task and a bug of their own kind were kept apart
        conn.execute(_link(iid, "b2", "books-task-1", "bug"))


def test_one_billing_claim_per_item(empty_db_url):
    dbengine.upgrade(empty_db_url)
    engine = dbengine.make_engine(empty_db_url)
    claim = {"item_type": "time_entry", "item_id": "t1", "side": "books", "claimed_at": NOW}
    with engine.begin() as conn:
        iid = _integration(conn)
        conn.execute(billing_claims.insert().values(integration_id=iid, **claim))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(billing_claims.insert().values(integration_id=iid, **(claim | {"side": "projects"})))


def test_0005_replaces_plain_webhook_tokens_with_their_digest(empty_db_url):
    import hashlib

    dbengine.upgrade(empty_db_url, "0004")
    engine = sa.create_engine(dbengine.normalize_url(empty_db_url), poolclass=sa.pool.NullPool)
    columns = "name, books_organization_id, projects_portal_id, credentials, connected_at, created_at, updated_at"
    with engine.begin() as conn:
        for i, (name, token) in enumerate((("acme", "plain-token-of-acme"), ("bare", None))):
            conn.execute(
                sa.text(
                    f"INSERT INTO integrations ({columns}, webhook_token) VALUES (:n, :i, :i, 'x', :t, :t, :t, :w)"
                ),
                {"n": name, "i": str(i), "t": NOW, "w": token},
            )
    dbengine.upgrade(empty_db_url)
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT name, webhook_token_sha256 FROM integrations")).all())
        assert "webhook_token" not in {c["name"] for c in sa.inspect(conn).get_columns("integrations")}
    engine.dispose()
    assert stored == {"acme": hashlib.sha256(b"plain-token-of-acme").hexdigest(), "bare": None}
