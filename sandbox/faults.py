"""Fault injection: make chosen requests slow, failing, throttled, garbled, cut off or dropped.

Kinds: ``truncated`` delivers the first half of the body as if it were all of it (a matching Content-Length:
what a misbehaving proxy hands over); ``cut`` announces the whole body, sends half and drops the connection
(the client sees an incomplete read); ``429`` answers with the API's throttle envelope and, given
``retry_after_s``, a ``Retry-After`` header — neither API documents one (reference Books §6, Projects §5), so
it is sent only when a test asks.

A fault matches requests by API (``"projects"``, ``"books"``, ``"accounts"`` or ``"*"``), optionally a path
(a route template such as ``/restapi/portal/{portal_id}/projects/``, or a prefix of the template or of the
raw path), a method and, for Books, an ``organization_id`` (the query parameter every Books call carries: one
tenant of a shared sandbox throttled, the other served). It fires for every match, for a ``rate`` fraction of
them (seeded, so a run is repeatable), for the first ``count`` matches, or for ``duration_s`` seconds of the
sandbox clock.

    book.add({"api": "books", "kind": "error5xx", "status": 503, "count": 3})

Latency faults add up and never stop the search; the first other fault that fires decides the response.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any

KINDS = ("latency", "error5xx", "429", "malformed", "truncated", "cut", "reset", "expire_token", "revoke_token")
APIS = ("projects", "books", "accounts", "*")
STATUSES_5XX = (500, 502, 503, 504)


@dataclass
class Fault:
    id: int
    kind: str
    api: str = "*"
    path: str | None = None
    method: str | None = None
    organization_id: str | None = None  # Books only: requests naming this organization
    rate: float = 1.0
    count: int | None = None  # fires left; None = unlimited
    status: int = 500
    latency_ms: int = 1000
    until: float | None = None  # sandbox-clock seconds after which the fault is gone
    retry_after_s: int | None = None  # kind 429: the Retry-After header's delay (none sent when None)
    fired: int = 0

    def matches(self, api: str, method: str, template: str, raw_path: str, organization_id: str = "") -> bool:
        if self.api not in ("*", api):
            return False
        if self.method and self.method.upper() != method:
            return False
        if self.organization_id and self.organization_id != organization_id:
            return False
        return not self.path or template.startswith(self.path) or raw_path.startswith(self.path)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_fault(fault_id: int, spec: dict[str, Any], now: float) -> Fault:
    """A Fault from the admin API's JSON; ValueError names the bad field."""
    kind = str(spec.get("kind", ""))
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    api = str(spec.get("api", "*"))
    if api not in APIS:
        raise ValueError(f"api must be one of {list(APIS)}, got {api!r}")
    rate = float(spec.get("rate", 1.0))
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must be between 0 and 1, got {rate}")
    count = spec.get("count")
    if count is not None and int(count) < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    status = int(spec.get("status", 500))
    if kind == "error5xx" and status not in STATUSES_5XX:
        raise ValueError(f"status must be one of {list(STATUSES_5XX)}, got {status}")
    duration = spec.get("duration_s")
    retry_after = spec.get("retry_after_s")
    if retry_after is not None and (kind != "429" or int(retry_after) < 0):
        raise ValueError(f"retry_after_s must be a whole number of seconds >= 0 on a 429 fault, got {retry_after!r}")
    return Fault(
        id=fault_id,
        kind=kind,
        api=api,
        path=spec.get("path") or None,
        method=(spec.get("method") or None) and str(spec["method"]).upper(),
        organization_id=str(spec["organization_id"]) if spec.get("organization_id") else None,
        rate=rate,
        count=None if count is None else int(count),
        status=status,
        latency_ms=int(spec.get("latency_ms", 1000)),
        until=None if duration is None else now + float(duration),
        retry_after_s=None if retry_after is None else int(retry_after),
    )


class FaultBook:
    """The active faults of one sandbox; thread-safe."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1
        self._random = random.Random(seed)

    def add(self, spec: dict[str, Any], now: float) -> Fault:
        with self._lock:
            fault = parse_fault(self._next_id, spec, now)
            self._next_id += 1
            self._faults.append(fault)
            return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self, now: float) -> list[dict[str, Any]]:
        with self._lock:
            self._expire(now)
            return [f.to_json() for f in self._faults]

    def pick(
        self, api: str, method: str, template: str, raw_path: str, now: float, organization_id: str = ""
    ) -> tuple[int, Fault | None]:
        """Total added latency (ms) and the fault that decides this request's fate, if any."""
        latency_ms = 0
        with self._lock:
            self._expire(now)
            for fault in self._faults:
                if not fault.matches(api, method, template, raw_path, organization_id) or not self._fires(fault):
                    continue
                if fault.kind == "latency":
                    latency_ms += fault.latency_ms
                    continue
                return latency_ms, fault
        return latency_ms, None

    def _fires(self, fault: Fault) -> bool:
        if fault.rate < 1 and self._random.random() >= fault.rate:
            return False
        fault.fired += 1
        if fault.count is not None:
            fault.count -= 1
        return True

    def _expire(self, now: float) -> None:
        self._faults = [
            f for f in self._faults if (f.count is None or f.count > 0) and (f.until is None or f.until > now)
        ]
