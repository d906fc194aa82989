"""The error bodies the platform layer (auth, rate limits, faults) answers with, per API.

Each API has its own envelope: Projects ``{"error": {"code", "message"}}`` (reference Projects §4), Books
``{"code", "message"}`` (reference Books §5), Accounts ``{"error": "<slug>"}``. Message texts are
(inferred) unless noted; they live here so they can be corrected in one place.
"""

from __future__ import annotations

from typing import Any

API_PROJECTS = "projects"
API_BOOKS = "books"
API_ACCOUNTS = "accounts"

# (inferred) Projects: the code table gives 6401 for HTTP 401; message text not captured.
PROJECTS_UNAUTHORIZED = {"error": {"code": 6401, "message": "Invalid OAuth access token."}}
# Books: code 57 and this message are seen in public clients.
BOOKS_UNAUTHORIZED = {"code": 57, "message": "You are not authorized to perform this operation"}

# (inferred) Projects 429: body never captured; code and text are ours.
PROJECTS_THROTTLED = {
    "error": {
        "code": 6429,
        "message": "You have exceeded the maximum number of API calls allowed. Try again after 30 minutes.",
    }
}
# Books 429 codes 44 (per minute) and 45 (per day) are from a third-party client's code map.
BOOKS_THROTTLED_MINUTE = {
    "code": 44,
    "message": "You have made too many requests continuously. Please try again after some time.",
}
BOOKS_THROTTLED_DAY = {
    "code": 45,
    "message": "You have exceeded the maximum number of API calls allowed for the day.",
}
BOOKS_THROTTLED_CONCURRENCY = {
    "code": 1070,
    "message": "You have exceeded the maximum number of concurrent API calls allowed. Please try again later.",
}
ACCOUNTS_THROTTLED = {
    "error": "Access Denied",
    "error_description": "You have made too many requests continuously. Please try again after some time.",
}

SERVER_ERROR: dict[str, dict[str, Any]] = {
    API_PROJECTS: {"error": {"code": 6500, "message": "Internal error."}},  # code table: 6500 → 500
    API_BOOKS: {"code": 1000, "message": "Internal error"},  # verbatim from the Books errors page
    API_ACCOUNTS: {"error": "server_error"},  # (inferred)
}

UNAUTHORIZED = {API_PROJECTS: PROJECTS_UNAUTHORIZED, API_BOOKS: BOOKS_UNAUTHORIZED}
THROTTLED = {API_PROJECTS: PROJECTS_THROTTLED, API_BOOKS: BOOKS_THROTTLED_MINUTE, API_ACCOUNTS: ACCOUNTS_THROTTLED}
