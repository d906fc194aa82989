"""Everything about the *classic* Projects REST API's wire format, in one table.

Paths, paging parameters, body encoding and error envelope live here and nowhere else, so the V3 API
(``/api/v3/portal/...``, ``page``/``per_page``, JSON bodies, PATCH) is a second ``ProjectsApi`` value plus a
paging/encoding variant — not a rewrite of ``ProjectsClient``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.zoho.errors import NotFound, RateLimited, ServerError, ValidationFailed, ZohoError
from shared.zoho.paging import cursor_number
from shared.zoho.ratelimit import retry_after

# Zoho: more than 100 calls in 2 minutes locks the user out "for the next 30 mins" (reference §5).
PROJECTS_LOCKOUT_SECONDS = 30 * 60
NOT_FOUND_CODES = {6404, 6504}


@dataclass(frozen=True)
class ProjectsApi:
    name: str
    root: str  # prefix under the API host
    page_size: int
    max_page_size: int
    paths: Mapping[str, str] = field(default_factory=dict)
    write_verb: str = "POST"  # classic updates POST to the item URL
    json_bodies: bool = False

    def path(self, name: str, **ids: str) -> tuple[str, str]:
        """(concrete path, template) for a named endpoint; the template names the endpoint in errors/metrics."""
        template = self.root + self.paths[name]
        return template.format(**ids), template

    # ------------------------------------------------------------------ paging: record position index/range
    def page_params(self, cursor: str | None) -> dict[str, int]:
        return {"index": cursor_number(cursor, default=1, what="Projects index"), "range": self.page_size}

    def next_cursor(self, cursor: str | None, received: int) -> str | None:
        """A short page (or 204) is the end; no total is ever sent."""
        if received < self.page_size:
            return None
        return str(cursor_number(cursor, default=1, what="Projects index") + self.page_size)


CLASSIC = ProjectsApi(
    name="classic",
    root="/restapi",
    page_size=100,
    max_page_size=200,
    paths={
        "portals": "/portals/",
        "portal": "/portal/{portal_id}/",
        "projects": "/portal/{portal_id}/projects/",
        "project": "/portal/{portal_id}/projects/{project_id}/",
        "project_clients": "/portal/{portal_id}/projects/{project_id}/clients/",
        "clients": "/portal/{portal_id}/clients/",
        "users": "/portal/{portal_id}/users/",
        "project_users": "/portal/{portal_id}/projects/{project_id}/users/",
        "tasklists": "/portal/{portal_id}/projects/{project_id}/tasklists/",
        "milestones": "/portal/{portal_id}/projects/{project_id}/milestones/",
        "tasks": "/portal/{portal_id}/projects/{project_id}/tasks/",
        "task": "/portal/{portal_id}/projects/{project_id}/tasks/{task_id}/",
        "bugs": "/portal/{portal_id}/projects/{project_id}/bugs/",
        "logs": "/portal/{portal_id}/projects/{project_id}/logs/",
        "general_log": "/portal/{portal_id}/projects/{project_id}/logs/{log_id}/",
        "task_logs": "/portal/{portal_id}/projects/{project_id}/tasks/{task_id}/logs/",
        "task_log": "/portal/{portal_id}/projects/{project_id}/tasks/{task_id}/logs/{log_id}/",
        "task_log_approval": "/portal/{portal_id}/projects/{project_id}/tasks/{task_id}/logs/{log_id}/approval",
        "bug_logs": "/portal/{portal_id}/projects/{project_id}/bugs/{bug_id}/logs/",
        "bug_log": "/portal/{portal_id}/projects/{project_id}/bugs/{bug_id}/logs/{log_id}/",
        "bug_log_approval": "/portal/{portal_id}/projects/{project_id}/bugs/{bug_id}/logs/{log_id}/approval",
        "general_log_approval": "/portal/{portal_id}/projects/{project_id}/logs/{log_id}/approval",
    },
)

# Time-log group keys per component: current spelling first, Zoho's 2014 wrapper spelling second (§11).
LOG_GROUP_KEYS = {
    "task": ("tasklogs", "task_logs"),
    "bug": ("buglogs", "bug_logs"),
    "general": ("generallogs", "general_logs"),
}


def projects_error(status: int, body: Any, headers: Mapping[str, str], endpoint: str) -> ZohoError:
    """Classic envelope ``{"error": {"code", "message"}}`` → our hierarchy."""
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    message = str(error.get("message")) if isinstance(error, dict) and error.get("message") else f"HTTP {status}"
    common: dict[str, Any] = {"api": "projects", "endpoint": endpoint, "status": status, "code": code}
    if status == 429:
        asked = retry_after(headers, time.time())
        if asked is not None:  # not documented for Projects, but when Zoho says when, believe it
            return RateLimited(
                f"Zoho Projects rate limit hit: {message}",
                retry_at=time.time() + asked,
                hint=f"Zoho asked to wait {asked:.0f} s; syncing of this portal resumes after that",
                **common,
            )
        # No Retry-After: the lockout is 30 minutes from the breach.
        return RateLimited(
            f"Zoho Projects rate limit hit: {message}",
            retry_at=time.time() + PROJECTS_LOCKOUT_SECONDS,
            hint="Zoho locks the user out for 30 minutes; syncing of this portal resumes after that",
            **common,
        )
    if status == 404 or code in NOT_FOUND_CODES:
        return NotFound(message, **common)
    if status >= 500:
        return ServerError(message, **common)
    if status == 401:
        return ZohoError(message, **common)  # the HTTP layer turns a repeated 401 into AuthError
    return ValidationFailed(message, **common)
