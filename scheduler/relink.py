"""The admin's answer to a client an earlier version linked by e-mail alone: these are different companies.

The client's link is dropped, so the next sync matches it again by name (or gives it a customer of its own). Only
on the admin's word (``bpsync retry --relink``, the error's "Relink by name" button, ``{"relink": true}`` on the
API's retry): the product never relinks behind their back (README, Customers).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shared.db import links

REASON = "linked_by_email"


class RelinkRefused(Exception):
    """The error is not about a client linked by e-mail alone; nothing was written."""

    def __init__(self, error_id: int, reason_code: str) -> None:
        super().__init__(f"error #{error_id} is {reason_code}, not {REASON}")
        self.error_id = error_id
        self.reason_code = reason_code

    def advice(self, option: str) -> str:
        """The refusal worded for the caller's name of the option (``--relink``, ``"relink"``)."""
        return (
            f"{option} is for a client linked by e-mail alone (reason {REASON}); error #{self.error_id} is "
            f"{self.reason_code}: retry it without {option}"
        )


def check(error: Any) -> None:
    """Refuse before anything is written (RelinkRefused)."""
    if error.reason_code != REASON:
        raise RelinkRefused(error.id, error.reason_code)


def drop_email_link(engine: sa.Engine, error: Any) -> str | None:
    """Drop the client's link; returns the Books customer it pointed at (None: it was gone already)."""
    check(error)
    with engine.begin() as conn:
        link = links.get_link(conn, error.integration_id, "client", error.source_id)
        if link is None:
            return None
        links.remove(conn, link.id)
    return link.books_id
