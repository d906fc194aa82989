"""Relink from the web and the API, as `bpsync retry --relink` does on the command line: on the admin's word, a
client linked by e-mail alone loses its link and the sync matches it again by name. Refused cases write nothing."""

from __future__ import annotations

import sqlalchemy as sa

from scheduler.embedded import running_worker
from scheduler.status import error_details, get_error
from shared.db import sync_errors
from shared.db.integrations import update_integration
from shared.db.schema import entity_links
from shared.db.sync_errors import Problem
from shared.modules import modules_for_refresh
from tests.ops_sync import World, wait_for_run


def _client_links(world: World) -> dict[str, str | None]:
    with world.engine.connect() as conn:
        rows = conn.execute(
            sa.select(entity_links.c.projects_id, entity_links.c.books_id).where(entity_links.c.entity_type == "client")
        ).all()
    return dict(rows)


def _linked_by_email(world: World) -> tuple[int, str, str]:
    """An open linked_by_email error on a synced client (what the clients module reports for an old e-mail link)."""
    client_id, books_id = next(iter(sorted(_client_links(world).items())))
    with world.engine.begin() as conn:
        error_id = sync_errors.record(
            conn,
            1,
            module="clients",
            entity_type="client",
            source_id=client_id,
            source_name="Linked By Mail",
            problem=Problem("linked_by_email", "linked by e-mail alone", "rename, or retry with --relink"),
            module_run_id=None,
        )
    assert books_id is not None
    return error_id, client_id, books_id


def test_the_api_relinks_only_a_client_linked_by_email_and_the_sync_links_it_again(client, synced):
    error_id, client_id, books_id = _linked_by_email(synced)
    other = next(e for e in error_details(synced.engine, 1) if e.reason_code != "linked_by_email")
    before = _client_links(synced)

    refusals = [
        (client.post(f"/api/errors/{other.id}/retry", json={"relink": True}), 409, '"relink" is for a client linked'),
        (client.post(f"/api/errors/{error_id}/retry", json={"relink": "yes"}), 400, '"relink" must be true or false'),
        (client.post(f"/api/errors/{error_id}/retry", json={"relnk": True}), 400, "unknown field 'relnk'"),
    ]
    for response, status, message in refusals:
        assert response.status_code == status, response.text
        assert message in response.json()["error"]
    update_integration(synced.engine, 1, state="disabled")
    disabled = client.post(f"/api/errors/{error_id}/retry", json={"relink": True})
    assert disabled.status_code == 409 and "disabled" in disabled.json()["error"]
    assert _client_links(synced) == before  # nothing refused wrote anything
    update_integration(synced.engine, 1, state="active")

    retried = client.post(f"/api/errors/{error_id}/retry", json={"relink": True})
    assert retried.status_code == 202, retried.text
    body = retried.json()
    assert body["relinked"] is True and body["modules"] == modules_for_refresh("clients")
    assert client_id not in _client_links(synced)  # dropped before the sync runs
    with running_worker(synced.app):
        wait_for_run(synced.engine, body["run_id"])
    # matched again by name: the same Books customer (its name is the client's), and the error is resolved
    assert _client_links(synced)[client_id] == books_id
    assert get_error(synced.engine, error_id).resolved_at is not None


def test_the_errors_page_offers_relink_only_for_a_client_linked_by_email(client, synced):
    error_id, client_id, _books_id = _linked_by_email(synced)
    page = client.get("/integrations/1/errors").text
    assert page.count("Relink by name") == 1
    row = page[page.index(f'id="error-{error_id}"') :]
    assert 'name="relink" value="1"' in row[: row.index("</tr>")]

    posted = client.post(f"/errors/{error_id}/retry", data={"relink": "1"}, follow_redirects=False)
    assert posted.status_code == 303 and "requested=" in posted.headers["location"]
    assert client_id not in _client_links(synced)
