"""Request counts per API, method and route template, plus the 429s served (``GET /_sandbox/requests``).

Benchmarks and tests read these to assert how many calls the product made, e.g. "the tasks sync paged
the task list 3 times" or "no request was throttled".
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class RequestCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_route: Counter[tuple[str, str, str]] = Counter()
        self._statuses: Counter[tuple[str, int]] = Counter()

    def count_request(self, api: str, method: str, template: str) -> None:
        with self._lock:
            self._by_route[(api, method, template)] += 1

    def count_status(self, api: str, status: int) -> None:
        with self._lock:
            self._statuses[(api, status)] += 1

    def clear(self) -> None:
        with self._lock:
            self._by_route.clear()
            self._statuses.clear()

    def snapshot(self) -> dict[str, Any]:
        """JSON for the admin API: totals, per-API totals, per-route rows, and status counts per API."""
        with self._lock:
            by_route = dict(self._by_route)
            statuses = dict(self._statuses)
        by_api: Counter[str] = Counter()
        for (api, _, _), n in by_route.items():
            by_api[api] += n
        throttled_by_api = {api: n for (api, status), n in statuses.items() if status == 429}
        status_rows: dict[str, dict[str, int]] = {}
        for (api, status), n in sorted(statuses.items()):
            status_rows.setdefault(api, {})[str(status)] = n
        return {
            "total": sum(by_route.values()),
            "throttled": sum(throttled_by_api.values()),
            "by_api": dict(by_api),
            "throttled_by_api": throttled_by_api,
            "statuses": status_rows,
            "requests": [
                {"api": api, "method": method, "path": path, "count": n}
                for (api, method, path), n in sorted(by_route.items())
            ],
        }

    def count(self, api: str, method: str | None = None, path: str | None = None) -> int:
        """Matching requests so far; in-process tests use this instead of the admin route."""
        with self._lock:
            return sum(
                n
                for (a, m, p), n in self._by_route.items()
                if a == api and (method is None or m == method) and (path is None or p == path)
            )
