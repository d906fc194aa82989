"""What unmodified open-source Zoho clients send: trailing slashes on Books and Projects paths (Zoho answers
both), unknown Projects paths (Zoho's error envelope, never a plain-text "Not Found"), and Books'
``page_context`` as an object."""

from __future__ import annotations

import pytest
import requests

from tests.sandbox.projects.conftest import ProjectsApi


def _books(api: ProjectsApi, method: str, path: str, **kwargs) -> requests.Response:
    params = {"organization_id": api.creds["organization_id"], **kwargs.pop("params", {})}
    url = f"{api.server.base_url}/books/v3/{path.lstrip('/')}"
    return api.http.request(method, url, params=params, timeout=10, **kwargs)


@pytest.fixture(scope="module")
def contact_id(projects_api: ProjectsApi) -> str:
    return _books(projects_api, "GET", "contacts").json()["contacts"][0]["contact_id"]


@pytest.mark.parametrize("slash", ["", "/"])
def test_books_reads_a_path_with_or_without_its_trailing_slash(projects_api, contact_id, slash):
    one = _books(projects_api, "GET", f"contacts/{contact_id}{slash}")
    assert one.status_code == 200, one.text
    assert one.json()["contact"]["contact_id"] == contact_id
    listed = _books(projects_api, "GET", f"contacts{slash}")
    assert listed.status_code == 200 and listed.json()["contacts"]
    me = _books(projects_api, "GET", f"users/me{slash}")
    assert me.status_code == 200, me.text


def test_books_writes_through_a_trailing_slash_keep_their_body(fresh_projects):
    api = fresh_projects("admin")
    contact = _books(api, "POST", "contacts/", json={"contact_name": "Slash & Co"})
    assert contact.status_code == 201, contact.text
    contact_id = contact.json()["contact"]["contact_id"]
    renamed = _books(api, "PUT", f"contacts/{contact_id}/", json={"contact_name": "Slash and Co"})
    assert renamed.status_code == 200, renamed.text
    assert _books(api, "GET", f"contacts/{contact_id}").json()["contact"]["contact_name"] == "Slash and Co"


def test_books_still_refuses_an_unknown_path_and_a_double_slash(projects_api, contact_id):
    for path in ("no-such-module/", f"contacts/{contact_id}//"):
        response = _books(projects_api, "GET", path)
        assert response.status_code == 404
        assert response.json() == {"code": 5, "message": "Invalid URL Passed"}
    wrong_method = _books(projects_api, "PATCH", f"contacts/{contact_id}/")
    assert wrong_method.status_code == 405 and "code" in wrong_method.json()


def test_books_page_context_is_an_object(projects_api):
    for module in ("contacts", "projects", "invoices"):
        context = _books(projects_api, "GET", f"{module}/").json()["page_context"]
        assert isinstance(context, dict) and context["page"] == 1 and "has_more_page" in context


@pytest.mark.parametrize(
    "path",
    [
        "portals",
        "portal/{portal}",
        "portal/{portal}/projects",
        "portal/{portal}/projects/{project}/tasks",
        "portal/{portal}/projects/{project}/bugs",
        "portal/{portal}/users",
        "portal/{portal}/mytasks",
        "portal/{portal}/mybugs",
    ],
)
def test_projects_answers_a_path_with_or_without_its_trailing_slash(projects_api, path):
    project = next(p for p in projects_api.world.projects.values() if p.portal_id == projects_api.portal)
    bare = path.format(portal=projects_api.portal, project=project.id)
    without, with_slash = projects_api.get(bare), projects_api.get(bare + "/")
    assert without.status_code == with_slash.status_code
    assert without.status_code in (200, 204), without.text
    assert without.content == with_slash.content


@pytest.mark.parametrize(
    "path", ["portal/{portal}/no-such-list/", "portal/{portal}/projects/{project}/widgets", "v9/anything"]
)
def test_an_unknown_projects_path_is_zohos_404_envelope(projects_api, path):
    project = next(iter(projects_api.world.projects.values()))
    for method in ("GET", "POST", "DELETE"):
        response = projects_api.http.request(
            method, projects_api.url(path.format(portal=projects_api.portal, project=project.id)), timeout=10
        )
        assert response.status_code == 404, (method, response.text)
        assert response.headers["content-type"].startswith("application/json")
        error = response.json()["error"]
        assert error["code"] == 6404 and error["message"]


def test_a_known_projects_path_called_with_another_method_is_a_405_envelope(projects_api):
    response = projects_api.http.delete(projects_api.url(projects_api.in_portal("mytasks/")), timeout=10)
    assert response.status_code == 405
    assert set(response.json()["error"]) == {"code", "message"}


def test_an_unknown_path_still_needs_a_token(projects_api):
    response = requests.get(projects_api.url("v9/anything"), timeout=10)
    assert response.status_code == 401 and response.json()["error"]["code"] == 6401
