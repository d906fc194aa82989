"""The minimal client of issue 18: the product's requests, replayed one after another with one ``requests.Session``.

The requests come from the sandbox's journal (``/_sandbox/journal``, sandbox/journal.py) of the product's run; the
replay sends them to a fresh sandbox of the same seed, so it needs the same answers to the same requests. The
sandbox numbers what it creates from one counter, so a create reached in another order (two worker processes)
gets another id: the replay learns each created id from the write's recorded answer and its own, and rewrites
later paths, queries and bodies with what it learned. A token request is replayed as recorded (the seeded refresh
token is the same) and its new access token signs what follows. Nothing here parses more than an id or a token:
this is the floor a sync's wall time is compared with (``benchmarks/engine_overhead.py``).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import requests

# sandbox ids: Projects 18 digits, Books 15 (sandbox/world.py); creation times in ms have 13
ID = re.compile(r"(?<!\d)(?:\d{18}|\d{15})(?!\d)")
# what differs between two sandboxes for the same requests: when a record was made (the clock) and secrets
UNCOMPARED = re.compile(r"(^|_)(time|ms|date)$|token|^created|^modified")
BOOKS_TABLES = (
    "books_users",
    "contacts",
    "books_projects",
    "books_tasks",
    "time_entries",
    "invoices",
    "estimates",
    "expenses",
    "recurring_invoices",
)


@dataclass
class IdMap:
    """Product-run id -> replay id, for the records the two runs created under different numbers."""

    ids: dict[str, str] = field(default_factory=dict)

    def rewrite(self, text: str) -> str:
        if not self.ids or not text:
            return text
        return ID.sub(lambda m: self.ids.get(m.group(0), m.group(0)), text)

    def learn(self, recorded: str, replayed: str) -> None:
        """Pair the ids of a write's two answers in order; only the ones that differ need rewriting."""
        theirs, ours = ID.findall(recorded), ID.findall(replayed)
        if len(theirs) != len(ours):
            return  # a different answer (an error on one side): the comparison of statuses reports it
        for old, new in zip(theirs, ours, strict=True):
            if old != new and self.ids.get(old, new) == new:
                self.ids[old] = new


@dataclass
class Replayed:
    wall: float
    cpu: float
    sent: int
    statuses: Counter[int]
    took: list[float]  # each entry's seconds, request and bookkeeping: what a phase of the run cost the replay


def replay(entries: list[dict[str, Any]], base_url: str, token: str, ids: IdMap) -> tuple[Replayed, str]:
    """Send ``entries`` in order; returns the timings and the access token in use at the end."""
    session = requests.Session()
    statuses: Counter[int] = Counter()
    took: list[float] = []
    cpu0, started = time.process_time(), time.perf_counter()
    last = started
    for entry in entries:
        url = base_url + ids.rewrite(entry["path"])
        if entry["query"]:
            url += "?" + ids.rewrite(entry["query"])
        headers = {"Accept": "application/json"}
        if entry["api"] != "accounts":
            headers["Authorization"] = f"Zoho-oauthtoken {token}"
        if entry["content_type"]:
            headers["Content-Type"] = entry["content_type"]
        body = ids.rewrite(entry["body"]).encode() if entry["body"] else None
        resp = session.request(entry["method"], url, data=body, headers=headers, timeout=60)
        statuses[resp.status_code] += 1
        if "response" in entry:
            ids.learn(entry["response"], resp.text)
        if entry["api"] == "accounts" and resp.status_code == 200:
            token = resp.json().get("access_token", token)
        now = time.perf_counter()
        took.append(now - last)
        last = now
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
    session.close()
    return Replayed(wall, cpu, len(entries), statuses, took), token


def route_statuses(entries: Iterable[dict[str, Any]]) -> Counter[tuple[str, str, str, int | None]]:
    return Counter((e["api"], e["method"], e["template"], e["status"]) for e in entries)


def request_differences(product: list[dict[str, Any]], replayed: list[dict[str, Any]], ids: IdMap) -> list[str]:
    """What one run sent and the other did not (method, path, query, body; product ids rewritten), at most 5."""

    def sent(e: dict[str, Any], rewrite: bool) -> tuple[str, str, str, str]:
        if e["api"] == "accounts":  # a form with the refresh token, the same; its answer differs anyway
            return (e["method"], e["path"], "", "")
        fix = ids.rewrite if rewrite else str
        return (e["method"], fix(e["path"]), fix(e["query"]), fix(e["body"]))

    ours = Counter(sent(e, True) for e in product)
    theirs = Counter(sent(e, False) for e in replayed)
    lines = [f"product only x{n}: {r}" for r, n in (ours - theirs).items()]
    lines += [f"replay only x{n}: {r}" for r, n in (theirs - ours).items()]
    return lines[:5] + ([f"… {len(lines) - 5} more"] if len(lines) > 5 else [])


def books_state(base_url: str) -> dict[str, Any]:
    state = requests.get(f"{base_url}/_sandbox/state", timeout=300).json()
    return {name: state[name] for name in BOOKS_TABLES}


def books_differences(product: dict[str, Any], replayed: dict[str, Any], ids: IdMap) -> list[str]:
    """Records of the Books tables that differ (clock fields left out; product ids rewritten), at most 5 lines."""
    lines = []
    for table in BOOKS_TABLES:
        ours = Counter(_canonical(r, ids) for r in product[table])
        theirs = Counter(_canonical(r, None) for r in replayed[table])
        if ours != theirs:
            lines.append(
                f"{table}: {len(product[table])} vs {len(replayed[table])} records, "
                f"{sum((ours - theirs).values())} only after the product, e.g. {next(iter(ours - theirs), '')[:300]}"
            )
    return lines


def _canonical(record: dict[str, Any], ids: IdMap | None) -> str:
    text = json.dumps(_without_clock(record), sort_keys=True)
    return ids.rewrite(text) if ids is not None else text


def _without_clock(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_clock(v) for k, v in value.items() if not UNCOMPARED.search(k)}
    if isinstance(value, list):
        return [_without_clock(v) for v in value]
    return value
