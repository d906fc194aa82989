"""The badge a module shows (design §10): what an admin needs to know at a glance.

Precedence, first match wins:
1. ``disabled``     "Disabled"               the integration is disabled (links are kept; nothing runs)
2. ``waiting``      "Waiting for API quota"  the module is in progress but Zoho's quota paused it (its own
                                             ``waiting_until`` or the integration's ``paused_until``); shows when
                                             it resumes. Modules that already finished keep their own badge.
3. ``in_progress``  "Sync in Progress"       the module has a queued or running module run in an unfinished sync
4. ``failed``       "Failed"                 its last finished module run failed (or was skipped by a fatal error)
5. ``active``       "Active"                 its last finished module run succeeded; ``partial`` (some records
                                             failed or were blocked) is Active too: the module works, the
                                             failing records are counted in ``open_errors`` with their reasons
6. ``not_synced``   "Not synced yet"         no module run has finished yet (showing "Active" would be a lie)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

DISABLED = "disabled"
WAITING = "waiting"
IN_PROGRESS = "in_progress"
FAILED = "failed"
ACTIVE = "active"
NOT_SYNCED = "not_synced"

LABELS: dict[str, str] = {
    DISABLED: "Disabled",
    WAITING: "Waiting for API quota",
    IN_PROGRESS: "Sync in Progress",
    FAILED: "Failed",
    ACTIVE: "Active",
    NOT_SYNCED: "Not synced yet",
}
# An integration's overall badge is the most urgent of its modules' (same order as the module precedence).
URGENCY = (DISABLED, WAITING, IN_PROGRESS, FAILED, ACTIVE, NOT_SYNCED)

# module_runs.status values that mean "this module works" once finished; "partial" = some records failed.
WORKING_RUN_STATUSES = ("succeeded", "partial")


@dataclass(frozen=True)
class Badge:
    state: str
    resumes_at: dt.datetime | None = None

    @property
    def label(self) -> str:
        return LABELS[self.state]


def module_badge(
    *,
    disabled: bool,
    now: dt.datetime,
    paused_until: dt.datetime | None,
    waiting_until: dt.datetime | None,
    in_progress: bool,
    last_finished_status: str | None,
) -> Badge:
    """Decide one module's badge from what the database says about it."""
    if disabled:
        return Badge(DISABLED)
    if in_progress:
        resumes_at = max((t for t in (paused_until, waiting_until) if t is not None and t > now), default=None)
        return Badge(WAITING, resumes_at) if resumes_at is not None else Badge(IN_PROGRESS)
    if last_finished_status is None:
        return Badge(NOT_SYNCED)
    return Badge(ACTIVE if last_finished_status in WORKING_RUN_STATUSES else FAILED)


def overall_badge(badges: list[Badge]) -> Badge:
    if not badges:
        return Badge(NOT_SYNCED)
    return min(badges, key=lambda b: URGENCY.index(b.state))
