"""Zoho data centers → API hosts, from ../shared/reference (zoho-projects-api.md §1, zoho-books-api.md §1).

Hosts the reference marks (inferred) are still listed here, because every one of them can be overridden by a
setting (``BPSYNC_PROJECTS_API_URL``, ``BPSYNC_BOOKS_API_URL``, ``BPSYNC_ACCOUNTS_URL``) — that is also how the
sandbox is used, so product code never special-cases it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DataCenter:
    code: str
    projects_api: str  # host root; the classic API lives under /restapi
    books_api: str  # API root including /books/v3
    accounts: str
    inferred: tuple[str, ...] = ()  # which of the three hosts are not confirmed by a source


DATA_CENTERS: dict[str, DataCenter] = {
    dc.code: dc
    for dc in (
        DataCenter(
            "US", "https://projectsapi.zoho.com", "https://www.zohoapis.com/books/v3", "https://accounts.zoho.com"
        ),
        DataCenter("EU", "https://projectsapi.zoho.eu", "https://www.zohoapis.eu/books/v3", "https://accounts.zoho.eu"),
        DataCenter("IN", "https://projectsapi.zoho.in", "https://www.zohoapis.in/books/v3", "https://accounts.zoho.in"),
        DataCenter(
            "AU",
            "https://projectsapi.zoho.com.au",
            "https://www.zohoapis.com.au/books/v3",
            "https://accounts.zoho.com.au",
            inferred=("projects_api",),
        ),
        DataCenter(
            "JP",
            "https://projectsapi.zoho.jp",
            "https://www.zohoapis.jp/books/v3",
            "https://accounts.zoho.jp",
            inferred=("projects_api",),
        ),
        DataCenter(
            "CA",
            "https://projectsapi.zohocloud.ca",
            "https://www.zohoapis.ca/books/v3",
            "https://accounts.zohocloud.ca",
            inferred=("projects_api",),
        ),
        DataCenter(
            "CN",
            "https://projectsapi.zoho.com.cn",
            "https://www.zohoapis.com.cn/books/v3",
            "https://accounts.zoho.com.cn",
            inferred=("books_api",),
        ),
        DataCenter(
            "SA",
            "https://projectsapi.zoho.sa",
            "https://www.zohoapis.sa/books/v3",
            "https://accounts.zoho.sa",
            inferred=("projects_api", "books_api", "accounts"),
        ),
    )
}


@dataclass(frozen=True)
class Endpoints:
    """Base URLs one integration talks to, after settings overrides."""

    projects_api: str
    books_api: str
    accounts: str


def endpoints_for(settings: Any, data_center: str | None = None) -> Endpoints:
    """The data center's hosts, each replaced by its settings override when one is set."""
    code = str(data_center or getattr(settings, "data_center", "US")).upper()
    try:
        dc = DATA_CENTERS[code]
    except KeyError:
        raise ValueError(f"unknown Zoho data center {code!r}; use one of {', '.join(DATA_CENTERS)}") from None
    return Endpoints(
        projects_api=(getattr(settings, "projects_api_url", None) or dc.projects_api).rstrip("/"),
        books_api=(getattr(settings, "books_api_url", None) or dc.books_api).rstrip("/"),
        accounts=(getattr(settings, "accounts_url", None) or dc.accounts).rstrip("/"),
    )
