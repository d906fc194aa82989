"""Every Books list of a generated world, paged to the end, validates against Zoho's documents."""

from __future__ import annotations

import requests

from sandbox.server import SandboxServer
from tests.sandbox.books.spec_check import check_response
from tests.sandbox_fixtures import access_token

LISTS = ["/contacts", "/users", "/settings/currencies", "/projects", "/projects/timeentries", "/invoices",
         "/expenses", "/estimates", "/recurringinvoices"]  # fmt: skip


def test_all_lists_page_through_and_validate(sandbox: SandboxServer) -> None:
    http = requests.Session()
    creds = requests.get(sandbox.base_url + "/_sandbox/credentials", timeout=10).json()
    token = access_token(
        sandbox.base_url,
        creds["admin"]["refresh_token"],
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
    )
    http.headers["Authorization"] = f"Zoho-oauthtoken {token}"
    base = sandbox.base_url + "/books/v3"
    orgs = http.get(base + "/organizations", timeout=10)
    check_response(orgs)
    assert orgs.json()["organizations"], "the seeded admin belongs to an organization"
    for org in orgs.json()["organizations"]:
        org_id = org["organization_id"]
        for path in LISTS:
            seen: list[str] = []
            for page in range(1, 1000):
                response = http.get(base + path, params={"organization_id": org_id, "page": page}, timeout=10)
                check_response(response)
                body = response.json()
                key = next(k for k in body if isinstance(body[k], list))
                seen += [str(next(iter(row.values()))) for row in body[key]]
                if not body["page_context"]["has_more_page"]:
                    break
            assert len(seen) == len(set(seen)), f"{path} repeated a record across pages"
        projects = http.get(base + "/projects", params={"organization_id": org_id, "per_page": 3}, timeout=10)
        for project in projects.json()["projects"]:
            for sub in ("", "/tasks", "/users", "/invoices"):
                response = http.get(
                    f"{base}/projects/{project['project_id']}{sub}", params={"organization_id": org_id}, timeout=10
                )
                assert response.status_code == 200, response.text
                check_response(response)
