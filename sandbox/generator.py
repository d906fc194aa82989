"""Seeded, deterministic worlds for tests, the demo and benchmarks.

    world = generate(seed=1, size="small")
    creds = credentials(world)  # OAuth client, refresh tokens of the admin and a non-admin, org/portal ids

Determinism: one ``random.Random(seed)`` drives every choice and ids come from the world's own sequence, so
the same seed and the same clock give an identical ``world.state()``. The clock is read once, as "now":
time logs fall in the ~6 months before it and every timestamp is derived from it, so a world generated
today looks fresh today. What the generator placed on purpose is listed in ``world.awkward``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, Literal

from sandbox.seed_books import seed_books
from sandbox.seed_legacy import seed_legacy
from sandbox.seed_projects import Cast, seed_clients, seed_people, seed_portals, seed_projects, seed_work, token
from sandbox.seed_timelogs import seed_timelogs
from sandbox.world import Clock, OAuthClient, World

Size = Literal["tiny", "small", "large"]


@dataclass(frozen=True)
class Preset:
    projects: int
    tasks_per_project: int
    bugs_per_project: int
    logs: int
    clients: int
    users: int


PRESETS: dict[str, Preset] = {
    "tiny": Preset(projects=7, tasks_per_project=3, bugs_per_project=1, logs=30, clients=8, users=8),
    "small": Preset(projects=20, tasks_per_project=10, bugs_per_project=2, logs=1_500, clients=15, users=25),
    "large": Preset(projects=1_000, tasks_per_project=20, bugs_per_project=2, logs=100_000, clients=520, users=210),
}


def generate(seed: int, size: Size, clock: Clock = time.time, *, legacy: bool = False) -> World:
    """``legacy``: also seed what Zoho's legacy integration left in Books (sandbox/seed_legacy.py)."""
    if size not in PRESETS:
        raise ValueError(f"size must be one of {sorted(PRESETS)}, got {size!r}")
    preset = PRESETS[size]
    rng = random.Random(seed)
    world = World(clock=clock)
    now = world.now_ms()
    client = OAuthClient(
        client_id="1000." + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(30)),
        client_secret=f"{rng.getrandbits(168):042x}",
    )
    world.oauth_clients[client.client_id] = client
    cast = Cast()
    seed_people(world, rng, preset, cast)
    seed_portals(world, cast)
    clients = seed_clients(world, rng, preset, cast, now)
    projects = seed_projects(world, rng, preset, cast, clients, now)
    tasks_of, bugs_of = seed_work(world, rng, preset, cast, projects, now)
    seed_timelogs(world, rng, preset, cast, projects, tasks_of, bugs_of, now)
    seed_books(world, rng, preset, cast, clients, projects, now)
    if legacy:
        seed_legacy(world, now)
    return world


def credentials(world: World) -> dict[str, Any]:
    """What a person would copy from Zoho's consoles to connect the product (``GET /_sandbox/credentials``).

    Read from the world, not remembered by the generator, so it also works after a reset or on a world
    built by hand: the main portal is the first one, its owner is the admin, the non-admin is the first
    other person of that portal holding a refresh token.
    """
    with world.lock:
        client = next(iter(world.oauth_clients.values()))
        portal = next(iter(world.portals.values()))
        admin = world.people[portal.owner_zuid]
        non_admin = next(
            world.people[zuid]
            for zuid, role in portal.roles.items()
            if zuid != admin.zuid and role not in ("admin",) and world.people.get(zuid, admin).refresh_tokens
        )
        orgs = [o.organization_id for o in world.organizations.values() if admin.zuid in o.member_zuids]
        return {
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "admin": _person(admin),
            "non_admin": _person(non_admin),
            "portal_ids": list(world.portals),
            "organization_ids": orgs,
            "portal_id": portal.id,
            "organization_id": next(
                (o for o in orgs if admin.zuid in world.organizations[o].admin_zuids), orgs[0] if orgs else ""
            ),
        }


def _person(person: Any) -> dict[str, str]:
    return {"zuid": person.zuid, "email": person.email, "refresh_token": person.refresh_tokens[0]}


__all__ = ["PRESETS", "Preset", "credentials", "generate", "token"]
