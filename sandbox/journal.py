"""An opt-in log of every API request in arrival order (``/_sandbox/journal``), for replaying a client's traffic.

Off until ``POST /_sandbox/journal`` (which also empties it); ``GET`` reads it, ``DELETE`` turns it off. An entry:
``{"api", "method", "template", "path", "query", "content_type", "body", "status", "at", "response"}`` — ``query`` the
raw query string, ``body`` the request body as text; ``response`` (the answer's body as text) only for writes
(POST/PUT/DELETE), where a replay needs it to learn the ids the sandbox gave what it created. The counter
(sandbox/counting.py) stays the cheap always-on view; the journal costs a copy of each body, so benchmarks turn it
on for the same runs they compare.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

WRITES = frozenset({"POST", "PUT", "DELETE", "PATCH"})


class RequestJournal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] | None = None  # None: not recording

    @property
    def recording(self) -> bool:
        return self._entries is not None

    def start(self) -> None:
        with self._lock:
            self._entries = []

    def stop(self) -> None:
        with self._lock:
            self._entries = None

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries or [])

    async def record(
        self, api: str, method: str, template: str, scope: Scope, receive: Receive, send: Send
    ) -> tuple[Receive, Send]:
        """Note the request now (arrival order), with its whole body read up front (a route that answers without
        reading it still has it journaled); its status and (a write's) answer fill in as they pass."""
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                return receive, send
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body"))
        body = b"".join(chunks)
        entry: dict[str, Any] = {
            "api": api,
            "method": method,
            "template": template,
            "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "content_type": Headers(scope=scope).get("content-type", ""),
            "body": body.decode("utf-8", "replace"),
            "status": None,
            "at": time.time(),  # when it arrived: a benchmark tells which of the client's phases sent it
        }
        with self._lock:
            if self._entries is None:
                return _replaying(body, receive), send
            self._entries.append(entry)
        answer: list[bytes] | None = [] if method in WRITES else None

        async def journal_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            elif message["type"] == "http.response.body" and answer is not None:
                answer.append(message.get("body", b""))
                if not message.get("more_body"):
                    entry["response"] = b"".join(answer).decode("utf-8", "replace")
            await send(message)

        return _replaying(body, receive), journal_send


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then whatever the connection says next."""
    pending = True

    async def replaying_receive() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replaying_receive
