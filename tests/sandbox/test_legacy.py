"""The sandbox's ``legacy`` option: what Zoho's legacy integration left in Books, as ``bpsync migrate`` reads it."""

from __future__ import annotations

from typing import Any

import requests

from sandbox.generator import credentials, generate
from sandbox.seed_legacy import STORED_ID_FIELD
from tests.sandbox.books.spec_check import check_response
from tests.sandbox_fixtures import access_token

CASES = (
    "legacy_projects",
    "legacy_invoices",
    "legacy_renamed_project",
    "legacy_merged_customer",
    "legacy_no_primary_client_project",
    "legacy_no_primary_client_invoices",
    "legacy_unlinked_task",
)


def test_legacy_is_off_by_default_and_deterministic() -> None:
    plain = generate(1, "tiny", clock=lambda: 1_700_000_000.0)
    assert not [k for k in plain.awkward if k.startswith("legacy")] and not plain.books_projects
    one = generate(1, "small", clock=lambda: 1_700_000_000.0, legacy=True)
    two = generate(1, "small", clock=lambda: 1_700_000_000.0, legacy=True)
    assert one.state() == two.state()
    assert all(one.awkward.get(case) for case in CASES)


def test_the_awkward_cases_are_what_they_say() -> None:
    world = generate(1, "tiny", legacy=True)
    (orphan,) = world.awkward["legacy_no_primary_client_project"]
    assert world.projects[orphan].primary_client_id is None
    (orphan_invoice,) = world.awkward["legacy_no_primary_client_invoices"]
    billed = {e.project_id for e in world.time_entries.values() if e.invoice_id == orphan_invoice}
    assert [p.custom_fields[0]["value"] for p in world.books_projects.values() if p.project_id in billed] == [orphan]
    (renamed,) = world.awkward["legacy_renamed_project"]
    books = next(p for p in world.books_projects.values() if p.custom_fields[0]["value"] == renamed)
    assert books.project_name != world.projects[renamed].name
    (survivor,) = world.awkward["legacy_merged_customer"]
    merged = next(p for p in world.books_projects.values() if p.customer_id == survivor)
    client = world.clients[world.projects[merged.custom_fields[0]["value"]].primary_client_id or ""]
    assert client.name not in {c.contact_name for c in world.contacts.values()}  # merged away: only the survivor
    assert world.invoices and all(i.status == "sent" for i in world.invoices.values())


def test_books_projects_carry_the_stored_id_and_answer_to_the_spec(sandbox_factory: Any) -> None:
    server = sandbox_factory(size="tiny", legacy=True)
    creds = credentials(server.world)
    token = access_token(
        server.base_url,
        creds["admin"]["refresh_token"],
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
    )
    response = requests.get(
        f"{server.base_url}/books/v3/projects",
        params={"organization_id": creds["organization_id"]},
        headers={"Authorization": f"Zoho-oauthtoken {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    check_response(response)
    stored = {
        f["value"]
        for p in response.json()["projects"]
        for f in p.get("custom_fields", [])
        if f["api_name"] == STORED_ID_FIELD
    }
    assert stored == {
        *server.world.awkward["legacy_projects"],
        *server.world.awkward["legacy_no_primary_client_project"],
    }
