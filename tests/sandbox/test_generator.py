"""The seeded generator: determinism, preset sizes, the awkward cases, credentials, and that what it
generates is consistent (every reference points at a record of the right place)."""

from __future__ import annotations

import re

import pytest

from sandbox.generator import PRESETS, credentials, generate
from sandbox.world import World

NOW = 1_750_000_000.0


def fixed() -> float:
    return NOW


@pytest.fixture(scope="module")
def tiny() -> World:
    return generate(7, "tiny", clock=fixed)


@pytest.fixture(scope="module")
def small() -> World:
    return generate(1, "small", clock=fixed)


def test_same_seed_and_clock_give_the_same_world_and_another_seed_does_not():
    assert generate(3, "small", clock=fixed).state() == generate(3, "small", clock=fixed).state()
    assert generate(3, "small", clock=fixed).state() != generate(4, "small", clock=fixed).state()


def test_the_clock_is_read_only_as_now(small):
    later = generate(1, "small", clock=lambda: NOW + 86_400 * 30)
    assert max(log.log_date for log in later.timelogs.values()) > max(log.log_date for log in small.timelogs.values())


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_preset_sizes(size):
    world = generate(1, size, clock=fixed)
    preset = PRESETS[size]
    main = next(iter(world.portals))
    projects = [p for p in world.projects.values() if p.portal_id == main]
    assert len(projects) == preset.projects
    assert sum(1 for t in world.tasks.values() if t.project_id in {p.id for p in projects}) == (
        preset.projects * preset.tasks_per_project
    )
    assert len(world.timelogs) == preset.logs


@pytest.mark.slow
def test_large_preset_meets_the_scale_floor():
    # how fast it generates is a benchmark's question (no timed assertions in tests): benchmarks/engine_overhead.py
    world = generate(1, "large", clock=fixed)
    assert len(world.projects) >= 1_000 and len(world.tasks) >= 20_000 and len(world.timelogs) >= 100_000
    assert len(world.clients) >= 500 and len({zuid for _, zuid in world.portal_users}) >= 200


AWKWARD = [
    "no_primary_client", "currency_mismatch_clients", "currency_mismatch_contacts", "same_name_clients",
    "near_same_name_clients", "near_same_name_contacts", "duplicate_normalized_contacts", "unapproved_logs",
    "non_billable_logs", "general_logs", "bug_logs", "bugs_with_logs", "users_missing_in_books",
    "logs_of_users_missing_in_books", "project_expenses", "projects_with_expenses", "archived_projects",
    "completed_tasks", "email_match_clients", "email_match_contacts", "inactive_users",
    "portal_not_owned_by_admin", "books_user_email_case_differs",
]  # fmt: skip


@pytest.mark.parametrize("case", AWKWARD)
def test_tiny_has_every_awkward_case(tiny, case):
    assert tiny.awkward.get(case), f"tiny world lacks {case}"


def _normalized(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


def test_the_awkward_cases_are_what_they_say(tiny):
    world = tiny
    contacts = world.contacts
    currency = {c.currency_id: c.currency_code for c in world.currencies.values()}
    for project_id in world.awkward["no_primary_client"]:
        assert world.projects[project_id].primary_client_id is None
    client = world.clients[world.awkward["currency_mismatch_clients"][0]]
    contact = contacts[world.awkward["currency_mismatch_contacts"][0]]
    assert contact.contact_name == client.name and currency[contact.currency_id] != client.currency_code
    assert any(p.primary_client_id == client.id for p in world.projects.values())
    near = world.clients[world.awkward["near_same_name_clients"][0]]
    twin = contacts[world.awkward["near_same_name_contacts"][0]]
    assert (near.name, twin.contact_name) == ("Acme Ltd", "ACME Ltd.")
    assert _normalized(near.name) == _normalized(twin.contact_name)
    dupes = [contacts[c].contact_name for c in world.awkward["duplicate_normalized_contacts"]]
    assert len(dupes) == 2 and dupes[0] != dupes[1] and _normalized(dupes[0]) == _normalized(dupes[1])
    by_email = world.clients[world.awkward["email_match_clients"][0]]
    other = contacts[world.awkward["email_match_contacts"][0]]
    assert by_email.email == other.email and by_email.name != other.contact_name
    books_emails = {u.email.lower() for u in world.books_users.values()}
    for zuid in world.awkward["users_missing_in_books"]:
        assert world.people[zuid].email not in books_emails
    for log_id in world.awkward["logs_of_users_missing_in_books"]:
        assert world.people[world.timelogs[log_id].owner_id].email not in books_emails
    assert {world.timelogs[i].approval_status for i in world.awkward["unapproved_logs"]} == {"Pending", "Rejected"}
    assert all(world.expenses[e].customer_id in contacts for e in world.awkward["project_expenses"])
    assert not world.books_projects


def test_references_are_consistent(small):
    world = small
    for project in world.projects.values():
        assert project.owner_id in project.user_ids
        assert all(world.clients[c].portal_id == project.portal_id for c in project.client_ids)
        assert project.primary_client_id in (None, *project.client_ids)
        assert all((project.portal_id, z) in world.portal_users for z in project.user_ids)
    for task in world.tasks.values():
        assert world.tasklists[task.tasklist_id].project_id == task.project_id
        assert set(task.owner_ids) <= set(world.projects[task.project_id].user_ids)
    today = world.today()
    for log in world.timelogs.values():
        assert log.owner_id in world.projects[log.project_id].user_ids
        assert (today - log.log_date).days in range(0, 190)
        assert log.created_ms <= world.now_ms()
        if log.component == "task":
            assert world.tasks[log.task_id].project_id == log.project_id
        elif log.component == "bug":
            assert world.bugs[log.bug_id].project_id == log.project_id
        else:
            assert log.name
    for contact in world.contacts.values():
        assert world.currencies[contact.currency_id].organization_id == contact.organization_id
    names = [(c.organization_id, c.contact_name) for c in world.contacts.values()]
    assert len(names) == len(set(names)), "Books refuses two contacts with one display name"


def test_ids_look_like_zohos(small):
    assert all(len(i) == 18 and i.isdigit() for i in list(small.projects) + list(small.timelogs))
    assert all(len(i) == 15 and i.isdigit() for i in list(small.contacts) + list(small.books_users))


def test_credentials_name_the_admin_the_non_admin_and_the_main_pair(small):
    creds = credentials(small)
    main, second = creds["portal_ids"]
    assert creds["portal_id"] == main and creds["organization_id"] == creds["organization_ids"][0]
    admin, non_admin = creds["admin"], creds["non_admin"]
    assert small.portals[main].roles[admin["zuid"]] == "admin" and small.portals[main].owner_zuid == admin["zuid"]
    assert small.portals[second].roles[admin["zuid"]] == "employee"
    assert small.portals[main].roles[non_admin["zuid"]] == "employee"
    assert admin["refresh_token"] in small.people[admin["zuid"]].refresh_tokens
    org = small.organizations[creds["organization_id"]]
    assert admin["zuid"] in org.admin_zuids and non_admin["zuid"] in org.member_zuids
    assert non_admin["zuid"] not in org.admin_zuids
    assert len(creds["organization_ids"]) == 2
    assert creds["client_id"] in small.oauth_clients
    assert re.fullmatch(r"1000\.[0-9a-f]{32}\.[0-9a-f]{32}", admin["refresh_token"])
