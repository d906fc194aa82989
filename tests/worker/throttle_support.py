"""Oracles for syncs under throttling and faults: Books as a comparable picture, and a run's counts.

A faulty or throttled sync must end exactly where the same sync of the same world ends without trouble: the same
Books records (by name, under the same parents, nothing twice) and the same counts in its history.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import requests

from sandbox.generator import credentials
from shared.db.runs import COUNTERS
from tests.sync_support import RunResult, SyncHarness

# counters that describe what the sync did to records (api_calls differ with retries on purpose)
RECORD_COUNTERS = tuple(c for c in COUNTERS if c != "api_calls")


def books_picture(h: SyncHarness) -> Counter[tuple[Any, ...]]:
    """Every Books record of the organization as a comparable tuple (names instead of ids; duplicates count)."""
    return books_picture_of(h.state(), credentials(h.sandbox.world)["organization_id"])


def books_picture_of(state: dict[str, Any], org: str) -> Counter[tuple[Any, ...]]:
    """``books_picture`` of a sandbox's ``/_sandbox/state``."""
    ours = {k: [r for r in rows if r.get("organization_id") == org] for k, rows in state.items() if k != "awkward"}
    project_name = {p["project_id"]: p["project_name"] for p in ours["books_projects"]}
    customer_name = {c["contact_id"]: c["contact_name"] for c in ours["contacts"]}
    task_name = {t["task_id"]: t["task_name"] for t in ours["books_tasks"]}
    user_email = {u["user_id"]: u["email"] for u in ours["books_users"]}
    picture: Counter[tuple[Any, ...]] = Counter()
    picture.update(("user", u["email"], u["status"], u["user_role"]) for u in ours["books_users"])
    picture.update(("customer", c["contact_name"], c["currency_id"]) for c in ours["contacts"])
    for p in ours["books_projects"]:
        staff = tuple(sorted(user_email.get(u["user_id"], "?") for u in p["users"]))
        picture[("project", p["project_name"], customer_name.get(p["customer_id"]), p["status"], staff)] += 1
    picture.update(
        ("task", project_name.get(t["project_id"]), t["task_name"], t["status"]) for t in ours["books_tasks"]
    )
    picture.update(
        (
            "time",
            project_name.get(e["project_id"]),
            task_name.get(e["task_id"]),
            user_email.get(e["user_id"]),
            e["log_date"],
            e["minutes"],
            e["billed_status"],
        )
        for e in ours["time_entries"]
    )
    return picture


def run_counts(run: RunResult) -> dict[str, dict[str, int]]:
    return {module: {c: int(getattr(row, c)) for c in RECORD_COUNTERS} for module, row in run.modules.items()}


def add_fault(h: SyncHarness, **spec: Any) -> None:
    requests.post(f"{h.sandbox.base_url}/_sandbox/faults", json=spec, timeout=5).raise_for_status()


def sandbox_429s(h: SyncHarness) -> int:
    """429 answers the sandbox gave (its own limits and injected faults alike)."""
    return int(requests.get(f"{h.sandbox.base_url}/_sandbox/requests", timeout=10).json()["throttled"])
