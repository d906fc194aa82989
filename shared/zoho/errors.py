"""One exception hierarchy for every Zoho call: retryable vs fatal, each carrying what failed and how to fix it.

The worker decides from the class alone: a ``RetryableError`` is retried later (``RateLimited`` at
``retry_at``), a ``FatalError`` becomes a sync error shown to the admin with ``hint``.
"""

from __future__ import annotations

from typing import Any


class ZohoError(Exception):
    retryable: bool = False
    default_hint: str = ""

    def __init__(
        self,
        message: str,
        *,
        api: str = "",
        endpoint: str = "",
        status: int | None = None,
        code: int | str | None = None,
        hint: str | None = None,
    ) -> None:
        self.api = api
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = " ".join(part for part in (self.api, self.endpoint) if part)
        details = []
        if self.status is not None:
            details.append(f"HTTP {self.status}")
        if self.code is not None:
            details.append(f"code {self.code}")
        text = f"{where}: {self.message}" if where else self.message
        if details:
            text += f" ({', '.join(details)})"
        if self.hint:
            text += f" — {self.hint}"
        return text


class RetryableError(ZohoError):
    """Try again later: nothing is wrong with the request itself.

    Hints say the fault is transient, never that "the call will be retried": the HTTP layer has already spent
    its on-the-spot retries when this is raised, and whoever catches it decides whether to try again (the
    sync engine appends how many attempts it gave up after).
    """

    retryable = True


class ServerError(RetryableError):
    default_hint = "Zoho had an internal error, usually a passing one"


class ConnectionFailed(RetryableError):
    default_hint = "check network access to Zoho; a dropped connection is usually a passing fault"


class MalformedResponse(RetryableError):
    default_hint = "Zoho sent a body that is not the expected JSON, usually a passing fault"


class RateLimited(RetryableError):
    default_hint = "the Zoho API limit for this account is used up; work resumes when the window reopens"

    def __init__(self, message: str, *, retry_at: float, **kwargs: Any) -> None:
        self.retry_at = retry_at
        super().__init__(message, **kwargs)


class DailyQuotaExhausted(RateLimited):
    default_hint = "the organization's daily Zoho Books API quota is used up; work resumes after the reset"


class FatalError(ZohoError):
    """Retrying the same call cannot help; a person must change something."""


class AuthError(FatalError):
    default_hint = "give this integration an admin's credentials: bpsync update-credentials"


class NotFound(FatalError):
    default_hint = "the record was deleted in Zoho or the id is wrong"


class ValidationFailed(FatalError):
    """Zoho refused the data (duplicate name, already invoiced...): ``code`` and ``message`` are Zoho's own."""

    default_hint = "fix the record in Zoho or in the mapping, then retry"
