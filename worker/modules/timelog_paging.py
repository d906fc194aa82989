"""``DatedWindows``: time logs read per project, a (component, month) window at a time.

The Projects time-log list has no modified-since filter and no deletion feed (see ``timelog_windows``). So for
each project of the run (``timelog_scope``) the paging:

1. reads the windows ``timelog_windows.plan_scan`` picks, page by page;
2. **verifies** the linked logs those windows should have returned but did not: a log can vanish from its month
   because it was deleted or because its date was edited into a month this scan does not read (a daily run
   between deep reads, an instant poll). Those components' other months are read, newest first, until every
   missing log is found (it then updates its entry with the new date) or none are left. A deep read covers every
   month already, so it never verifies; nor does a log that a ``timelog.deleted`` webhook named (Projects said it
   is gone);
3. on a FULL run, remembers where the project's logs start (``timelog_scope.learn``);
4. hands each linked log that no window returned on as a ``GoneLog``: deleted in Projects.

The cursor is the run (``timelog_scope.start``) with its current project's ``scan``: the plan, the window and page
reached (``w``, ``page``), the log ids read (``seen``), each component's earliest month with a log (``hits``), then
the verification (``verify``: its months, the missing ids, the candidates for gone, its own ``w`` and ``page``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from shared.db import links
from shared.zoho.errors import NotFound
from shared.zoho.paging import Page
from shared.zoho.projects_models import Component
from worker.modules.base import SourcePage, SyncContext
from worker.modules.timelog_scope import learn, logs_start, project_windows, start, tasks_and_bugs, upgraded
from worker.modules.timelog_windows import FULL, ProjectScan, months_between, portal_today

Window = tuple[str, dt.date]


@dataclass(frozen=True)
class GoneLog:
    """A linked log that no window read returns any more: deleted in Projects."""

    link: links.Link


@dataclass(frozen=True)
class DatedWindows:
    """Each project's logs, window by window, then its linked logs that are gone (see the module's docstring)."""

    entity_type: str  # the links of what is listed: verified when a window misses one, handed on when gone
    # one page (at a Zoho cursor; None: the first) of a project's logs of one component dated in one month
    list_window: Callable[[SyncContext, str, Component, dt.date, str | None], Page[Any]]

    def page(self, ctx: SyncContext, cursor: dict[str, Any] | None) -> SourcePage:
        run = upgraded(cursor) if cursor else start(ctx, self.entity_type)
        if run["index"] >= len(run["projects"]):
            return SourcePage([], None)
        project_id = run["projects"][run["index"]]
        scan = run["scan"] or _new_scan(project_windows(ctx, run, project_id))
        plan = ProjectScan.from_json(scan["plan"])
        try:
            if scan["w"] >= len(plan.windows):
                scan = self._verifying(ctx, run, project_id, plan, scan)
            window = _next_window(plan, scan)
            if window is not None:
                items, scan = self._read(ctx, project_id, scan, window)
                return SourcePage(items, {**run, "scan": scan})
        except NotFound:  # the project was deleted in Projects meanwhile: leave its links for the next full run
            return SourcePage([], _next_project(run))
        if run["mode"] == FULL:
            learn(ctx, project_id, plan, scan.get("hits", {}))
        gone = set(scan["verify"]["unseen"]) - set(scan["seen"])
        logs = self._linked_logs(ctx, project_id) if gone else []
        return SourcePage([GoneLog(link) for link in logs if link.projects_id in gone], _next_project(run))

    def _read(
        self, ctx: SyncContext, project_id: str, scan: dict[str, Any], window: Window
    ) -> tuple[list[Any], dict[str, Any]]:
        """One page of one window; the scan moves on to the window's next page or the next window."""
        component, month = window
        verify = scan.get("verify")
        walked = scan if verify is None else verify  # the plan's windows, then the verification's
        # the window's component is one of COMPONENTS (a checkpoint keeps it as a plain string)
        page = self.list_window(ctx, project_id, cast(Component, component), month, walked["page"])
        found = [log.id for log in page.items]
        hits = dict(scan.get("hits", {}))
        if page.items and (component not in hits or month.isoformat() < hits[component]):
            hits[component] = month.isoformat()
        scan = {**scan, "seen": scan["seen"] + found, "hits": hits}
        moved = {"page": page.next_cursor} if page.next_cursor else {"w": walked["w"] + 1, "page": None}
        if verify is None:
            return page.items, {**scan, **moved}
        returned = set(found)
        missing = {c: [i for i in ids if i not in returned] for c, ids in verify["missing"].items()}
        return page.items, {**scan, "verify": {**verify, **moved, "missing": missing}}

    def _verifying(
        self, ctx: SyncContext, run: dict[str, Any], project_id: str, plan: ProjectScan, scan: dict[str, Any]
    ) -> dict[str, Any]:
        """The scan with its verification planned, moved past the windows of components none of whose logs are
        missing any more."""
        verify = scan.get("verify") or self._verification(ctx, run, project_id, plan, set(scan["seen"]))
        windows, w = ProjectScan.from_json(verify).windows, verify["w"]
        while w < len(windows) and not verify["missing"].get(windows[w][0]):
            w += 1
        return {**scan, "verify": verify if w == verify["w"] else {**verify, "w": w, "page": None}}

    def _verification(
        self, ctx: SyncContext, run: dict[str, Any], project_id: str, plan: ProjectScan, seen: set[str]
    ) -> dict[str, Any]:
        """The months to search for linked logs that the plan's windows should have returned but did not."""
        # linked logs dated in a month the plan read that no window returned: deleted, or their date moved
        unseen = [
            link
            for link in (self._linked_logs(ctx, project_id) if plan.windows else [])
            if link.projects_id not in seen
            and link.attributes.get("log_date")
            and plan.covers(link.attributes.get("component", ""), dt.date.fromisoformat(link.attributes["log_date"]))
        ]
        deleted = set(run["deleted"])
        missing: dict[str, list[str]] = {}
        for link in unseen:
            component = link.attributes.get("component", "")
            if link.projects_id not in deleted and component not in plan.deep:
                missing.setdefault(component, []).append(link.projects_id)
        months: dict[str, list[str]] = {}
        if missing:
            everything = months_between(logs_start(ctx, run, project_id), portal_today())
            for component in missing:
                read = set(plan.months[component])
                months[component] = [m.isoformat() for m in reversed(everything) if m not in read]
        # what the end of the project hands on as gone unless a verification window returns it
        candidates = sorted(link.projects_id for link in unseen)
        return {"months": months, "missing": missing, "unseen": candidates, "w": 0, "page": None}

    def _linked_logs(self, ctx: SyncContext, project_id: str) -> list[links.Link]:
        """Linked logs of the project: under the project itself (general logs) or under its tasks and bugs."""
        parents = {project_id}.union(*tasks_and_bugs(ctx, project_id).values())
        with ctx.engine.connect() as conn:
            return links.links_under(conn, ctx.integration.id, self.entity_type, parents)


def _new_scan(plan: ProjectScan) -> dict[str, Any]:
    return {"plan": plan.to_json(), "w": 0, "page": None, "seen": []}


def _next_window(plan: ProjectScan, scan: dict[str, Any]) -> Window | None:
    """The plan's windows, then the verification's; None: all are read."""
    if "verify" not in scan:
        return plan.windows[int(scan["w"])]
    windows, w = ProjectScan.from_json(scan["verify"]).windows, int(scan["verify"]["w"])
    return windows[w] if w < len(windows) else None


def _next_project(run: dict[str, Any]) -> dict[str, Any] | None:
    index = run["index"] + 1
    return {**run, "index": index, "scan": None} if index < len(run["projects"]) else None
