"""A scripted Zoho for unit tests: a requests transport adapter (requests' own seam), no monkeypatching.

fake = FakeZoho()
fake.on("GET", "/restapi/portals/", 200, {"portals": []})       # answered in order, last one repeats
session = fake.session()
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter

Answer = tuple[int, Any, dict[str, str]] | Exception | Callable[["Seen"], Any]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes | None

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs((self.body or b"").decode()).items()}

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class FakeZoho(BaseAdapter):
    answers: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def on(
        self, method: str, path: str, status: int = 200, body: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        self.answers.setdefault((method, path), []).append((status, body, headers or {}))

    def compute(self, method: str, path: str, answer: Callable[[Seen], tuple[int, Any, dict[str, str]]]) -> None:
        self.answers.setdefault((method, path), []).append(answer)

    def raise_on(self, method: str, path: str, exc: Exception) -> None:
        self.answers.setdefault((method, path), []).append(exc)

    def session(self) -> requests.Session:
        session = requests.Session()
        session.mount("http://", self)
        session.mount("https://", self)
        return session

    def calls(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        return [s for s in self.seen if (method is None or s.method == method) and (path is None or s.path == path)]

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        assert kwargs.get("timeout") is not None, "every request must carry a timeout"
        parts = urlsplit(request.url or "")
        body = request.body.encode() if isinstance(request.body, str) else request.body
        seen = Seen(
            request.method or "",
            parts.path,
            {k: v[0] for k, v in parse_qs(parts.query).items()},
            dict(request.headers),
            body,
        )
        self.seen.append(seen)
        queue = self.answers.get((seen.method, seen.path))
        if not queue:
            return _response(request, 404, {"error": f"no fake answer for {seen.method} {seen.path}"}, {})
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            answer = answer(seen)
        status, payload, headers = answer
        return _response(request, status, payload, headers)

    def close(self) -> None:
        pass


def _response(
    request: requests.PreparedRequest, status: int, payload: Any, headers: dict[str, str]
) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.request = request
    resp.url = request.url or ""
    if isinstance(payload, bytes):
        resp._content = payload
    elif payload is None:
        resp._content = b""
    else:
        resp._content = json.dumps(payload).encode()
    resp.headers.update(headers)
    return resp
