"""The Projects half of a generated world: people, portals, client companies, projects, plans, tasks, bugs
and time logs, with the awkward cases placed on purpose (recorded in ``world.awkward``).

The first records of each kind carry the awkward cases so that even the ``tiny`` preset has every one;
the rest is random but deterministic (one ``random.Random`` passed in).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sandbox import names
from sandbox.projects.changes import project_key
from sandbox.world import (
    Bug,
    ClientCompany,
    Milestone,
    Person,
    Portal,
    PortalUser,
    Project,
    Task,
    Tasklist,
    World,
)

if TYPE_CHECKING:
    from sandbox.generator import Preset

DAY_MS = 86_400_000
LOG_HISTORY_DAYS = 182  # time logs spread over the last ~6 months
CURRENCIES = ("USD", "EUR", "GBP", "INR", "AUD", "CAD")
MINUTE_CHOICES = (15, 30, 45, 60, 90, 120, 180, 240, 300, 360, 480)

# Client companies whose Books counterpart is placed on purpose: (kind, name, currency, email).
SPECIAL_CLIENTS = (
    ("same_name", "Bowman and Co", "USD", "billing@bowman.example"),
    ("no_primary_filler", "Harbor Analytics Group", "USD", ""),
    ("currency_mismatch", "Zylker Imports", "EUR", "ap@zylker-imports.example"),
    ("near_same_name", "Acme Ltd", "USD", "accounts@acme.example"),
    ("email_match", "Northwind Traders", "USD", "accounts@northwind.example"),
    ("duplicate_normalized", "Globex Corporation", "USD", ""),
)


@dataclass
class Cast:
    """Who plays which part, for the Books half and for ``credentials()``."""

    admin: str = ""
    non_admin: str = ""
    other_owner: str = ""
    main_portal: str = ""
    second_portal: str = ""
    users: list[str] = field(default_factory=list)  # zuids of the main portal, in creation order
    in_books: set[str] = field(default_factory=set)
    inactive: set[str] = field(default_factory=set)
    client_kinds: dict[str, str] = field(default_factory=dict)  # client id -> kind (see SPECIAL_CLIENTS)
    projects_with_expenses: list[str] = field(default_factory=list)


def awkward(world: World, case: str, record_id: str) -> None:
    world.awkward.setdefault(case, []).append(record_id)


def token(rng: random.Random) -> str:
    return f"1000.{rng.getrandbits(128):032x}.{rng.getrandbits(128):032x}"


# --------------------------------------------------------------------------------------------- people
def seed_people(world: World, rng: random.Random, preset: Preset, cast: Cast) -> None:
    combos = rng.sample(range(len(names.FIRST_NAMES) * len(names.LAST_NAMES)), preset.users + 1)
    roles = ["admin", "employee", "manager", "contractor", "employee", "employee"]
    for i, combo in enumerate(combos):
        first = names.FIRST_NAMES[combo % len(names.FIRST_NAMES)]
        last = names.LAST_NAMES[combo // len(names.FIRST_NAMES)]
        zuid = str(639_283_100 + i * 37)
        email = f"{first}.{last}@zylker-consulting.example".lower()
        world.people[zuid] = Person(zuid=zuid, name=f"{first} {last}", email=email)
        if i == preset.users:  # the extra person owns the second portal
            cast.other_owner = zuid
            continue
        cast.users.append(zuid)
        role = roles[i] if i < len(roles) else rng.choices(("employee", "manager", "contractor"), (70, 15, 15))[0]
        if i == 4 or (i >= 6 and rng.random() < 0.05):
            cast.inactive.add(zuid)
        # users 3 (a contractor) and 5 log time but have no Books user: "log owner missing from Books"
        if i in (0, 1, 2, 4) or (i >= 6 and rng.random() < 0.75):
            cast.in_books.add(zuid)
        world.portal_users[("", zuid)] = PortalUser(
            id=zuid, zpuid="", portal_id="", name=f"{first} {last}", email=email, role=role
        )
    cast.admin, cast.non_admin = cast.users[0], cast.users[1]
    for zuid in (cast.admin, cast.non_admin):
        world.people[zuid].refresh_tokens.append(token(rng))
    for zuid in sorted(set(cast.users) - cast.in_books):
        awkward(world, "users_missing_in_books", zuid)
    for zuid in sorted(cast.inactive):
        awkward(world, "inactive_users", zuid)


def seed_portals(world: World, cast: Cast) -> None:
    drafts = [world.portal_users.pop(("", z)) for z in cast.users]
    main = Portal(
        id=world.projects_id(), name="zylkerconsulting", company_name="Zylker Consulting", owner_zuid=cast.admin
    )
    for user in drafts:
        user.portal_id, user.zpuid, user.active = main.id, world.projects_id(), user.id not in cast.inactive
        main.roles[user.id] = user.role
        world.portal_users[(main.id, user.id)] = user
    # The admin is only an employee here: "portals where the user is Owner" must leave it out.
    second = Portal(
        id=world.projects_id(), name="partnerstudio", company_name="Partner Studio", owner_zuid=cast.other_owner
    )
    for zuid, role in ((cast.other_owner, "admin"), (cast.admin, "employee")):
        person = world.people[zuid]
        second.roles[zuid] = role
        world.portal_users[(second.id, zuid)] = PortalUser(
            id=zuid,
            zpuid=world.projects_id(),
            portal_id=second.id,
            name=person.name,
            email=person.email,
            role=role,
        )
    world.portals[main.id], world.portals[second.id] = main, second
    cast.main_portal, cast.second_portal = main.id, second.id
    awkward(world, "portal_not_owned_by_admin", second.id)


# --------------------------------------------------------------------------------------------- clients
def seed_clients(world: World, rng: random.Random, preset: Preset, cast: Cast, now: int) -> list[ClientCompany]:
    specs = [(kind, name, cur, email) for kind, name, cur, email in SPECIAL_CLIENTS]
    total = len(names.COMPANY_STEMS) * len(names.COMPANY_KINDS) * len(names.COMPANY_SUFFIXES)
    for combo in rng.sample(range(total), max(preset.clients - len(specs), 0)):
        stem = names.COMPANY_STEMS[combo % len(names.COMPANY_STEMS)]
        rest = combo // len(names.COMPANY_STEMS)
        kind = names.COMPANY_KINDS[rest % len(names.COMPANY_KINDS)]
        suffix = names.COMPANY_SUFFIXES[rest // len(names.COMPANY_KINDS)]
        currency = rng.choices(CURRENCIES, (70, 12, 8, 4, 3, 3))[0]
        books_kind = "same_name" if rng.random() < 0.35 else "absent"
        specs.append((books_kind, f"{stem} {kind} {suffix}", currency, f"ap@{stem.lower()}.example"))
    clients = []
    for kind, name, currency, email in specs:
        created = now - rng.randint(300, 900) * DAY_MS
        client = ClientCompany(
            id=world.projects_id(),
            portal_id=cast.main_portal,
            name=name,
            email=email,
            currency_code=currency,
            created_ms=created,
            modified_ms=created + rng.randint(0, 200) * DAY_MS,
        )
        world.clients[client.id] = client
        cast.client_kinds[client.id] = kind
        if kind in ("same_name", "currency_mismatch", "near_same_name", "email_match", "duplicate_normalized"):
            awkward(world, f"{kind}_clients", client.id)
        clients.append(client)
    # Random clients of one stem share its mailbox (ap@stem.example): sister companies of a group, whose
    # same-mailbox Books customer must not be matched by e-mail alone. Recorded, not placed: no draw changes.
    mailboxes = Counter(c.email for c in clients if c.email)
    for client in clients:
        if mailboxes[client.email] > 1:
            awkward(world, "shared_mailbox_clients", client.id)
    return clients


# --------------------------------------------------------------------------------------------- projects
def seed_projects(
    world: World, rng: random.Random, preset: Preset, cast: Cast, clients: list[ClientCompany], now: int
) -> list[Project]:
    others = cast.users[2:]
    projects = []
    for i in range(preset.projects):
        clients_of, primary = _project_clients(world, rng, i, clients)
        members = {cast.admin, *rng.sample(others, min(len(others), rng.randint(3, 8)))}
        if i in (0, 1, 2) or (i != 3 and rng.random() < 0.6):
            members.add(cast.non_admin)  # project 3 and some others stay invisible to the non-admin
        if i in (0, 1):
            members.update(cast.users[2:6])  # the manager, the Books-less users, the inactive one
        created = now - rng.randint(190, 400) * DAY_MS
        start = _day(created)
        theme = names.PROJECT_THEMES[i % len(names.PROJECT_THEMES)]
        project = Project(
            id=world.projects_id(),
            portal_id=cast.main_portal,
            name=f"{theme} {i + 1:04d}",
            key=project_key(world.portals[cast.main_portal], i + 1),
            owner_id=cast.admin,
            status="archived" if i == 3 or (i > 6 and rng.random() < 0.08) else "active",
            description=f"{theme} for {clients_of[0].name if clients_of else 'internal use'}",
            currency_code=primary.currency_code if primary else "USD",
            client_ids=[c.id for c in clients_of],
            primary_client_id=primary.id if primary else None,
            user_ids=sorted(members, key=cast.users.index),
            start_date=start,
            end_date=start + dt.timedelta(days=rng.randint(90, 365)),
            created_ms=created,
            updated_ms=max(created, now - rng.randint(0, 30) * DAY_MS - rng.randint(0, DAY_MS)),
            rate=project_rate(i),
        )
        world.projects[project.id] = project
        projects.append(project)
        if primary is None:
            awkward(world, "no_primary_client", project.id)
        if project.status == "archived":
            awkward(world, "archived_projects", project.id)
        if primary is not None and cast.client_kinds[primary.id] == "same_name" and (i == 0 or rng.random() < 0.1):
            cast.projects_with_expenses.append(project.id)
    _seed_second_portal(world, cast, now)
    return projects


def project_rate(index: int) -> float:
    """The hourly billing rate of the index-th project: 80-120, and none for every 9th from the 8th on (so both
    kinds exist). Derived from the index, not drawn: the rest of the world stays as the seed made it before."""
    return 0.0 if index % 9 == 8 else float(80 + 10 * (index % 5))


def _project_clients(
    world: World, rng: random.Random, i: int, clients: list[ClientCompany]
) -> tuple[list[ClientCompany], ClientCompany | None]:
    """Projects 0-6 get the special clients; the rest a random one or two."""
    if i == 1:
        return [clients[1]], None  # associated, but nobody marked primary
    if i == 6:
        return [], None  # no client company at all
    if i < len(SPECIAL_CLIENTS):
        return [clients[i]], clients[i]
    chosen = rng.sample(clients, 2 if rng.random() < 0.2 else 1)
    return chosen, (None if rng.random() < 0.05 else chosen[0])


def _seed_second_portal(world: World, cast: Cast, now: int) -> None:
    client = ClientCompany(
        id=world.projects_id(),
        portal_id=cast.second_portal,
        name="Studio Client GmbH",
        currency_code="EUR",
        created_ms=now - 100 * DAY_MS,
        modified_ms=now - 100 * DAY_MS,
    )
    world.clients[client.id] = client
    project = Project(
        id=world.projects_id(),
        portal_id=cast.second_portal,
        name="Partner Campaign",
        key="PA1",
        owner_id=cast.other_owner,
        currency_code="EUR",
        client_ids=[client.id],
        primary_client_id=client.id,
        user_ids=[cast.other_owner, cast.admin],
        created_ms=now - 90 * DAY_MS,
        updated_ms=now - 5 * DAY_MS,
        rate=120.0,
    )
    world.projects[project.id] = project
    tasklist = Tasklist(id=world.projects_id(), project_id=project.id, name="General", created_ms=project.created_ms)
    world.tasklists[tasklist.id] = tasklist
    task = Task(
        id=world.projects_id(),
        project_id=project.id,
        tasklist_id=tasklist.id,
        name="Campaign plan",
        key="PA1-T1",
        owner_ids=[cast.admin],
        created_by=cast.other_owner,
        created_ms=project.created_ms,
        last_updated_ms=project.updated_ms,
    )
    world.tasks[task.id] = task


# --------------------------------------------------------------------------------------------- work
def seed_work(
    world: World, rng: random.Random, preset: Preset, cast: Cast, projects: list[Project], now: int
) -> tuple[dict[str, list[Task]], dict[str, list[Bug]]]:
    """Milestones, task lists, tasks and bugs of every main-portal project; returns them per project."""
    tasks_of: dict[str, list[Task]] = {}
    bugs_of: dict[str, list[Bug]] = {}
    for p_index, project in enumerate(projects):
        active = [z for z in project.user_ids if z not in cast.inactive]
        milestone = Milestone(
            id=world.projects_id(),
            project_id=project.id,
            name="Phase 1 delivered",
            owner_id=project.owner_id,
            status="completed" if rng.random() < 0.3 else "notcompleted",
            start_date=project.start_date,
            end_date=project.end_date,
            created_ms=project.created_ms,
        )
        world.milestones[milestone.id] = milestone
        lists = [
            Tasklist(id=world.projects_id(), project_id=project.id, name="General", created_ms=project.created_ms),
            Tasklist(
                id=world.projects_id(),
                project_id=project.id,
                name="Phase 1",
                milestone_id=milestone.id,
                created_ms=project.created_ms,
            ),
        ]
        for tasklist in lists:
            world.tasklists[tasklist.id] = tasklist
        tasks_of[project.id] = [
            _task(world, rng, project, lists, active, t, p_index, now) for t in range(preset.tasks_per_project)
        ]
        bugs_of[project.id] = [_bug(world, rng, project, active, b, now) for b in range(preset.bugs_per_project)]
    return tasks_of, bugs_of


def _task(
    world: World,
    rng: random.Random,
    project: Project,
    lists: list[Tasklist],
    active: list[str],
    t: int,
    p_index: int,
    now: int,
) -> Task:
    created = project.created_ms + rng.randint(0, 150) * DAY_MS
    verb, thing = rng.choice(names.TASK_VERBS), rng.choice(names.TASK_OBJECTS)
    unassigned = rng.random() < 0.1 and t > 1
    task = Task(
        id=world.projects_id(),
        project_id=project.id,
        tasklist_id=rng.choice(lists).id,
        name=f"{verb} {thing}",
        key=f"{project.key}-T{t + 1}",
        owner_ids=[] if unassigned else rng.sample(active, min(len(active), rng.randint(1, 2))),
        completed=(p_index == 0 and t == 1) or rng.random() < 0.25,
        billingtype="Non Billable" if (p_index == 0 and t == 2) or rng.random() < 0.1 else "Billable",
        priority=rng.choice(("None", "Low", "Medium", "High")),
        start_date=_day(created),
        end_date=_day(created) + dt.timedelta(days=rng.randint(1, 30)),
        created_by=project.owner_id,
        created_ms=created,
        last_updated_ms=min(now, created + rng.randint(0, 60) * DAY_MS),
    )
    world.tasks[task.id] = task
    if task.completed:
        awkward(world, "completed_tasks", task.id)
    if task.billingtype == "Non Billable":
        awkward(world, "non_billable_tasks", task.id)
    if unassigned:
        awkward(world, "unassigned_tasks", task.id)
    return task


def _bug(world: World, rng: random.Random, project: Project, active: list[str], b: int, now: int) -> Bug:
    created = project.created_ms + rng.randint(0, 150) * DAY_MS
    bug = Bug(
        id=world.projects_id(),
        project_id=project.id,
        title=rng.choice(names.BUG_TITLES),
        key=f"{project.key}-I{b + 1}",
        reporter_id=rng.choice(active),
        assignee_id=rng.choice(active),
        closed=rng.random() < 0.3,
        severity=rng.choice(("Minor", "Major", "Critical")),
        created_ms=created,
        last_updated_ms=min(now, created + rng.randint(0, 40) * DAY_MS),
    )
    world.bugs[bug.id] = bug
    return bug


def _day(ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).date()
