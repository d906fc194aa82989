"""Webhook delivery: the sandbox calls subscribers on changes, as Zoho webhooks do.

``emit(event, payload)`` only enqueues (routes and acts call it while holding the world lock); one daemon
thread POSTs ``{"event", "payload", "delivered_at"}`` as JSON to every subscriber whose event list matches
(``"*"``, an exact name such as ``"invoice.created"``, or a prefix pattern such as ``"invoice.*"``).
Delivery is best effort with a short timeout, like Zoho's; every attempt is recorded so tests can assert on
it, and ``wait_idle()`` lets a test wait for the queue to drain instead of sleeping.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import requests

Clock = Callable[[], float]


def event_matches(patterns: list[str], event: str) -> bool:
    return any(p in ("*", event) or (p.endswith(".*") and event.startswith(p[:-1])) for p in patterns)


class WebhookHub:
    def __init__(self, clock: Clock, timeout_s: Callable[[], float], attempts: Callable[[], int]) -> None:
        self._clock = clock
        self._timeout_s = timeout_s
        self._attempts = attempts
        self._lock = threading.Lock()
        self._subscriptions: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._queue: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._emitted: deque[dict[str, Any]] = deque(maxlen=1000)
        self._deliveries: deque[dict[str, Any]] = deque(maxlen=10000)
        self._thread: threading.Thread | None = None
        self._session = requests.Session()

    # ---------------------------------------------------------------------------------- subscriptions
    def subscribe(self, url: str, events: list[str]) -> dict[str, Any]:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must be an http(s) URL, got {url!r}")
        if not events or not all(isinstance(e, str) and e for e in events):
            raise ValueError('events must be a non-empty list of event names, e.g. ["invoice.created"] or ["*"]')
        with self._lock:
            subscription = {"id": next(self._ids), "url": url, "events": list(events)}
            self._subscriptions[subscription["id"]] = subscription
            return dict(subscription)

    def subscriptions(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(s) for s in self._subscriptions.values()]

    def clear(self) -> None:
        with self._lock:
            self._subscriptions.clear()
            self._deliveries.clear()
            self._emitted.clear()

    # ---------------------------------------------------------------------------------- events
    def emit(self, event: str, payload: dict[str, Any]) -> None:
        """Queue ``event`` for delivery; never blocks and never raises for a subscriber's failure."""
        with self._lock:
            self._emitted.append({"event": event, "payload": payload, "emitted_at": self._now_iso()})
            if not any(event_matches(s["events"], event) for s in self._subscriptions.values()):
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._deliver_forever, name="sandbox-webhooks", daemon=True)
                self._thread.start()
        self._queue.put((event, payload))

    def emitted(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._emitted)

    def deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._deliveries)

    def wait_idle(self, timeout_s: float = 5.0) -> bool:
        """Block until every queued event has been attempted (True) or the timeout passes (False)."""
        done = threading.Event()
        threading.Thread(target=lambda: (self._queue.join(), done.set()), daemon=True).start()
        return done.wait(timeout_s)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=2)
        self._session.close()

    # ---------------------------------------------------------------------------------- delivery
    def _deliver_forever(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._deliver(*item)
            finally:
                self._queue.task_done()

    def _deliver(self, event: str, payload: Any) -> None:
        targets = [s for s in self.subscriptions() if event_matches(s["events"], event)]
        for subscription in targets:
            for attempt in range(1, max(1, self._attempts()) + 1):
                record = self._post(subscription, event, payload, attempt)
                with self._lock:
                    self._deliveries.append(record)
                if record["ok"]:
                    break

    def _post(self, subscription: dict[str, Any], event: str, payload: Any, attempt: int) -> dict[str, Any]:
        delivered_at = self._now_iso()
        body = json.dumps({"event": event, "payload": payload, "delivered_at": delivered_at}, default=str)
        record: dict[str, Any] = {
            "subscription_id": subscription["id"],
            "url": subscription["url"],
            "event": event,
            "attempt": attempt,
            "delivered_at": delivered_at,
            "status": None,
            "error": None,
            "ok": False,
        }
        try:
            response = self._session.post(
                subscription["url"],
                data=body.encode(),
                headers={"Content-Type": "application/json"},
                timeout=self._timeout_s(),
            )
            record["status"] = response.status_code
            record["ok"] = 200 <= response.status_code < 300
        except requests.RequestException as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
        return record

    def _now_iso(self) -> str:
        return dt.datetime.fromtimestamp(self._clock(), tz=dt.UTC).isoformat(timespec="seconds")
