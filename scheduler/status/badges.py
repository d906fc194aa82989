"""The badge a module shows (design §10): what an admin needs to know at a glance.

Precedence, first match wins:
1. ``disabled``     "Disabled"               the integration is disabled (links are kept; nothing runs)
2. ``waiting``      "Waiting for API quota"  the module is in progress but Zoho's quota paused it (its own quota
                                             ``waiting_until`` or the integration's ``paused_until``); shows when
                                             it resumes. Modules that already finished keep their own badge.
3. ``in_progress``  "Sync in Progress"       the module has a queued or running module run in an unfinished sync;
                                             ``detail`` says when it is not simply running: backing off after a
                                             transient error (until ``resumes_at``), or stalled because its worker
                                             stopped (lease lapsed; the beat's next sweep resumes it by
                                             ``resumes_at``)
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
    """What a module (or an integration, its most urgent module's) shows: a state of URGENCY, when it resumes if
    it waits, and why it is in progress when that is not simply running.

    Every dataclass here has a docstring: without one, dataclass builds it from inspect.signature, half a
    millisecond of each start of ``bpsync status`` (issue 19)."""

    state: str
    resumes_at: dt.datetime | None = None
    detail: str | None = None

    @property
    def label(self) -> str:
        return LABELS[self.state]


# the badges without a time or detail, shared (a Badge is immutable): a status of 1,000 integrations asks for 6,000
_SETTLED = {state: Badge(state) for state in (DISABLED, FAILED, ACTIVE, NOT_SYNCED)}


def module_badge(
    *,
    disabled: bool,
    now: dt.datetime,
    paused_until: dt.datetime | None,
    waiting_until: dt.datetime | None,
    in_progress: bool,
    last_finished_status: str | None,
    wait_reason: str | None = "quota",
    lease_until: dt.datetime | None = None,
    sweep_every: float = 30.0,
) -> Badge:
    """Decide one module's badge from what the database says about it."""
    if disabled:
        return _SETTLED[DISABLED]
    if in_progress:
        # rows from before wait_reason existed were all quota waits
        quota_wait = waiting_until if wait_reason != "retry" else None
        resumes_at = max((t for t in (paused_until, quota_wait) if t is not None and t > now), default=None)
        if resumes_at is not None:
            return Badge(WAITING, resumes_at)
        if waiting_until is not None and waiting_until > now:
            return Badge(IN_PROGRESS, waiting_until, "retrying after a transient error")
        if lease_until is not None and lease_until <= now:
            resumes = max(now, lease_until) + dt.timedelta(seconds=sweep_every)
            return Badge(IN_PROGRESS, resumes, f"stalled: its worker stopped at {lease_until:%H:%M:%S} UTC")
        return Badge(IN_PROGRESS)
    if last_finished_status is None:
        return _SETTLED[NOT_SYNCED]
    return _SETTLED[ACTIVE if last_finished_status in WORKING_RUN_STATUSES else FAILED]


def overall_badge(badges: list[Badge]) -> Badge:
    if not badges:
        return Badge(NOT_SYNCED)
    return min(badges, key=lambda b: URGENCY.index(b.state))
