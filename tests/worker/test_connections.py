"""The worker's Zoho session reads the proxy and CA-bundle environment once per host (shared.zoho.factory), and
must answer what requests itself answers for every request."""

from __future__ import annotations

import pytest
import requests

from shared.zoho.factory import new_session

URLS = (
    "http://127.0.0.1:4000/restapi/portal/1/projects/",
    "https://www.zohoapis.eu/books/v3/projects?organization_id=1",
    "https://books.zoho.eu/api/v3/contacts",
    "http://example.com/",
)
ENVIRONMENTS = (
    {},
    {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "127.0.0.1,books.zoho.eu"},
    {"http_proxy": "http://other:1", "REQUESTS_CA_BUNDLE": "/etc/ssl/bundle.pem"},
)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_session_merges_the_environment_as_requests_does(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY",
                 "all_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    reference, ours = requests.Session(), new_session()
    for url in URLS:
        for proxies in ({}, {"no_proxy": "example.com"}, {"https": "http://explicit:8080"}):
            for verify in (None, True, False):
                for _ in range(2):  # the second answer comes from what the session kept
                    expected = reference.merge_environment_settings(url, dict(proxies), None, verify, None)
                    got = ours.merge_environment_settings(url, dict(proxies), None, verify, None)
                    assert {k: dict(v) if isinstance(v, dict) else v for k, v in got.items()} == {
                        k: dict(v) if isinstance(v, dict) else v for k, v in expected.items()
                    }, (url, proxies, verify)
