"""How many list pages per second the sandbox serves (it must not be the bottleneck of the sync benchmarks).

    .venv/bin/python -m benchmarks.sandbox_pages [--size large] [--seconds 20] [--threads 1]

Generates a world, serves it over real HTTP with rate limits off, and pages through the lists a sync
reads, starting a list over when it ends: Projects projects and tasks (``index``/``range`` until a short
page or 204) and Books contacts, projects and time entries (``page``/``per_page`` until ``has_more_page``
is false), at the maximum page size of 200. Prints one Markdown table row per list plus the total, ready
for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import requests

from sandbox.config import SandboxConfig
from sandbox.limits import preset
from sandbox.server import SandboxServer
from sandbox.world import World

PAGE = 200


@dataclass
class ListStats:
    name: str
    latencies: list[float] = field(default_factory=list)
    records: int = 0

    def row(self, elapsed: float) -> str:
        n = len(self.latencies)
        if not n:
            return f"| {self.name} | 0 | - | - | - | - |"
        p50 = statistics.median(self.latencies) * 1000
        p95 = sorted(self.latencies)[int(n * 0.95) - 1 if n > 1 else 0] * 1000
        return f"| {self.name} | {n} | {self.records} | {n / elapsed:.0f} | {p50:.1f} | {p95:.1f} |"


def _token(base: str, world: World, zuid: str) -> str:
    client = next(iter(world.oauth_clients.values()))
    body = requests.post(
        f"{base}/oauth/v2/token",
        params={
            "grant_type": "refresh_token",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "refresh_token": world.people[zuid].refresh_tokens[0],
        },
        timeout=10,
    ).json()
    return body["access_token"]


def projects_pages(http: requests.Session, url: str, key: str, params: dict | None = None) -> Iterator[int]:
    """Records per page of a classic Projects list."""
    index = 1
    while True:
        answer = http.get(url, params={**(params or {}), "index": index, "range": PAGE}, timeout=30)
        if answer.status_code == 204:
            return
        answer.raise_for_status()
        count = len(answer.json().get(key, []))
        yield count
        if count < PAGE:
            return
        index += PAGE


def books_pages(http: requests.Session, url: str, key: str, org_id: str) -> Iterator[int]:
    """Records per page of a Books list."""
    page = 1
    while True:
        answer = http.get(url, params={"organization_id": org_id, "page": page, "per_page": PAGE}, timeout=30)
        answer.raise_for_status()
        body = answer.json()
        yield len(body.get(key, []))
        if not body.get("page_context", {}).get("has_more_page"):
            return
        page += 1


def _walk(stats: ListStats, make_pages: Callable[[], Iterator[int]], deadline: float) -> None:
    """Page through the list until the deadline, starting over when it ends (steady-state rate)."""
    pages = make_pages()
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            count = next(pages)
        except StopIteration:
            pages = make_pages()
            continue
        stats.latencies.append(time.monotonic() - started)
        stats.records += count


def run(size: str, seconds: float, threads: int, seed: int = 1) -> list[str]:
    from sandbox.generator import generate

    built = time.monotonic()
    world = generate(seed, size)
    rows = [f"generated `{size}` world (seed {seed}) in {time.monotonic() - built:.1f}s"]
    portal = next(iter(world.portals.values()))
    org = next(iter(world.organizations.values()))
    with SandboxServer(world, config=SandboxConfig(rate_limits=preset("off"))) as sb:
        base = sb.base_url
        projects_http, books_http = requests.Session(), requests.Session()
        projects_http.headers["Authorization"] = f"Zoho-oauthtoken {_token(base, world, portal.owner_zuid)}"
        books_http.headers["Authorization"] = f"Zoho-oauthtoken {_token(base, world, org.admin_zuids[0])}"
        p_root = f"{base}/restapi/portal/{portal.id}"
        project_ids = [p.id for p in world.projects.values() if p.portal_id == portal.id]

        def task_pages() -> Iterator[int]:
            for project_id in project_ids:
                yield from projects_pages(projects_http, f"{p_root}/projects/{project_id}/tasks/", "tasks")

        lists = [
            (ListStats("Projects: projects"), lambda: projects_pages(projects_http, f"{p_root}/projects/", "projects")),
            (ListStats("Projects: tasks (per project)"), task_pages),
            (
                ListStats("Books: contacts"),
                lambda: books_pages(books_http, f"{base}/books/v3/contacts", "contacts", org.organization_id),
            ),
            (
                ListStats("Books: projects"),
                lambda: books_pages(books_http, f"{base}/books/v3/projects", "projects", org.organization_id),
            ),
            (
                ListStats("Books: time entries"),
                lambda: books_pages(
                    books_http, f"{base}/books/v3/projects/timeentries", "time_entries", org.organization_id
                ),
            ),
        ]
        rows += ["", "| list | pages | records | pages/s | p50 ms | p95 ms |", "|---|---|---|---|---|---|"]
        total_pages, total_elapsed = 0, 0.0
        for stats, pages in lists:
            started = time.monotonic()
            deadline = started + seconds / len(lists)
            workers = [threading.Thread(target=_walk, args=(stats, pages, deadline)) for _ in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            elapsed = time.monotonic() - started
            total_pages += len(stats.latencies)
            total_elapsed += elapsed
            rows.append(stats.row(elapsed))
        rows.append(f"| **all** | {total_pages} | | {total_pages / total_elapsed:.0f} | | |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["tiny", "small", "large"], default="large")
    parser.add_argument("--seconds", type=float, default=20.0, help="time budget shared by the lists")
    parser.add_argument("--threads", type=int, default=1, help="concurrent clients per list")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for row in run(args.size, args.seconds, args.threads, args.seed):
        print(row)


if __name__ == "__main__":
    main()
