"""What the web's buttons (and the matching /api POSTs) do: request a sync through ``shared.dispatch``, or disable
and re-enable an integration through ``scheduler.lifecycle``.

They refuse clearly instead of queueing work that cannot run (a disabled integration, an already resolved error,
credentials that no longer reach the portal); bad module names raise UnknownModule, which the app turns into a 400.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler import lifecycle
from scheduler.connect import ConnectError
from scheduler.relink import RelinkRefused, drop_email_link
from scheduler.status import get_error
from scheduler.status.timefmt import display
from scheduler.web.context import WebContext
from scheduler.web.queries import BadRequest
from shared.db.integrations import Integration, get_integration
from shared.db.runs import RunRequest
from shared.dispatch import UNSENT_NOTICE, request_sync
from shared.modules import modules_for_refresh


class ActionRefused(Exception):
    """The request is understood but cannot be done now; the message says why and what to do."""

    def __init__(self, message: str, status_code: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True)
class Started:
    integration_id: int
    integration: str
    modules: list[str]
    request: RunRequest

    def as_json(self) -> dict[str, object]:
        return {
            "integration_id": self.integration_id,
            "integration": self.integration,
            "modules": self.modules,
            "run_id": self.request.run_id,
            "coalesced": self.request.coalesced,
            "queued": self.request.sent,
            "detail": None if self.request.sent else UNSENT_NOTICE,
        }

    @property
    def notice(self) -> str:
        joined = " (joined the sync already running)" if self.request.coalesced else ""
        unsent = "" if self.request.sent else f" Not started yet: {UNSENT_NOTICE}."
        return f"Run #{self.request.run_id} requested for {', '.join(self.modules)}{joined}.{unsent}"


def refresh(ctx: WebContext, ref: int | str, module: str | None) -> Started:
    """Refresh one module (and everything below it) or all modules of an integration."""
    modules = modules_for_refresh(module or None)
    integration = _active(ctx, ref)
    request = request_sync(ctx.engine, ctx.celery, integration.id, module=module or None, trigger="manual")
    return Started(integration.id, integration.name, modules, request)


def _active(ctx: WebContext, ref: int | str) -> Integration:
    integration = get_integration(ctx.engine, ref)
    if integration.state != "active":
        raise ActionRefused(f"integration {integration.name!r} is disabled; enable it before refreshing")
    return integration


def retry_error(ctx: WebContext, error_id: int, *, relink: bool = False) -> Started:
    """Retry a failed record: its module runs again (with the modules below it) and retries every open error.

    ``relink`` (a client linked by e-mail alone, scheduler.relink): its link is dropped first, once every check
    passed, so a refused retry writes nothing.
    """
    error = get_error(ctx.engine, error_id)
    if error.resolved_at is not None:
        raise ActionRefused(f"error #{error_id} was resolved at {display(error.resolved_at)}; nothing to retry")
    _active(ctx, error.integration_id)
    if relink:
        try:
            drop_email_link(ctx.engine, error)
        except RelinkRefused as refused:
            raise ActionRefused(refused.advice('"relink"')) from None
    return refresh(ctx, error.integration_id, error.module)


def set_enabled(ctx: WebContext, ref: int | str, enabled: bool) -> lifecycle.Change:
    """Disable, or re-enable after checking the stored credentials with Zoho (same portal and organization)."""
    if not enabled:
        return lifecycle.disable(ctx.engine, ref)
    try:
        return lifecycle.enable(ctx.engine, ctx.settings, ref)
    except ConnectError as exc:
        raise ActionRefused(str(exc)) from None


def set_preferences(
    ctx: WebContext,
    ref: int | str,
    *,
    contact_duplication: str | None,
    general_timesheets: bool | None,
    sync_interval_hours: float | None,
) -> lifecycle.Change:
    """Change the preferences given (None: keep); a bad value is a 400 naming it."""
    try:
        return lifecycle.update_preferences(
            ctx.engine,
            ref,
            contact_duplication=contact_duplication,
            general_timesheets=general_timesheets,
            sync_interval_hours=sync_interval_hours,
        )
    except ConnectError as exc:
        raise BadRequest(str(exc)) from None
