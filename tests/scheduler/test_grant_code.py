"""``bpsync connect --grant-code`` and ``update-credentials --grant-code``: a Zoho user's Self Client grant code,
exchanged on the spot against the sandbox's accounts server (real processes, real HTTP)."""

from __future__ import annotations

import json

import pytest
import requests
import sqlalchemy as sa

from sandbox.generator import credentials
from shared.config import load_settings
from shared.db.engine import make_engine
from shared.db.integrations import credentials_of, get_integration
from shared.db.schema import integrations
from shared.zoho.factory import reset_embedded_state
from tests.scheduler.test_sync_commands import base_env, run


@pytest.fixture
def world(sandbox_factory):
    reset_embedded_state()
    return sandbox_factory(size="tiny")


def self_client_code(server, zuid: str) -> str:
    """What "Self Client > Generate Code" in Zoho's API console gives: a code with no redirect URI."""
    answer = requests.post(
        f"{server.base_url}/_sandbox/act", json={"action": "grant_authorization_code", "zuid": zuid}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["code"])


def connect_args(creds, code, name="acme"):
    return [
        "connect",
        "--name",
        name,
        "--client-id",
        creds["client_id"],
        "--client-secret",
        creds["client_secret"],
        "--grant-code",
        code,
        "--organization",
        creds["organization_id"],
        "--json",
    ]


def rows(url):
    with make_engine(url).connect() as conn:
        return conn.execute(sa.select(integrations.c.name)).all()


def test_a_grant_code_connects_once_and_a_used_code_says_to_generate_a_new_one(sqlite_migrated_url, world):
    creds = credentials(world.world)
    env = base_env(sqlite_migrated_url, world)
    admin = world.world.people[creds["admin"]["zuid"]]
    tokens_before = list(admin.refresh_tokens)
    code = self_client_code(world, admin.zuid)

    out = run(connect_args(creds, code), env)
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)
    assert (made["name"], made["projects_portal_id"]) == ("acme", creds["portal_id"])
    minted = [t for t in admin.refresh_tokens if t not in tokens_before]
    assert len(minted) == 1 and minted[0] not in out.stdout + out.stderr and code not in out.stdout + out.stderr
    settings = load_settings(database_url=sqlite_migrated_url, secret_key=env["BPSYNC_SECRET_KEY"])
    stored = credentials_of(settings, get_integration(make_engine(sqlite_migrated_url), "acme"))
    assert stored.refresh_token == minted[0] and stored.user_id == admin.zuid

    again = run(connect_args(creds, code, name="other"), env)
    assert again.returncode == 2
    assert "grant code is invalid, expired or already used" in again.stderr
    assert "generate a new one in the Zoho API console" in again.stderr and "lasts only minutes" in again.stderr
    assert [r.name for r in rows(sqlite_migrated_url)] == ["acme"]


def test_grant_code_and_refresh_token_together_are_refused_before_the_code_is_spent(sqlite_migrated_url, world):
    creds = credentials(world.world)
    env = base_env(sqlite_migrated_url, world)
    code = self_client_code(world, creds["admin"]["zuid"])
    both = run([*connect_args(creds, code), "--refresh-token", creds["admin"]["refresh_token"]], env)
    assert both.returncode == 2 and "give either --grant-code or --refresh-token, not both" in both.stderr
    from_env = run(connect_args(creds, code), env | {"BPSYNC_CONNECT_REFRESH_TOKEN": creds["admin"]["refresh_token"]})
    assert from_env.returncode == 2 and "unset it to connect with a grant code" in from_env.stderr
    bad_interval = run([*connect_args(creds, code), "--interval-hours", "0"], env)
    assert bad_interval.returncode == 2 and "out of range" in bad_interval.stderr
    assert rows(sqlite_migrated_url) == []
    assert run(connect_args(creds, code), env).returncode == 0  # none of the refusals spent the code


def test_a_refused_connect_revokes_the_refresh_token_its_code_minted(sqlite_migrated_url, world):
    creds = credentials(world.world)
    env = base_env(sqlite_migrated_url, world)
    non_admin = world.world.people[creds["non_admin"]["zuid"]]
    tokens_before = list(non_admin.refresh_tokens)
    out = run(connect_args(creds, self_client_code(world, non_admin.zuid)), env)
    assert out.returncode == 2 and "this user is" in out.stderr and "owner/admin" in out.stderr
    # Zoho keeps 20 refresh tokens per user and client: an orphan would push out one a working integration uses
    assert non_admin.refresh_tokens == tokens_before
    assert rows(sqlite_migrated_url) == []


def test_update_credentials_takes_a_grant_code(sqlite_migrated_url, world):
    creds = credentials(world.world)
    env = base_env(sqlite_migrated_url, world)
    assert run(connect_args(creds, self_client_code(world, creds["admin"]["zuid"])), env).returncode == 0
    before = get_integration(make_engine(sqlite_migrated_url), "acme").sealed_credentials
    args = ["update-credentials", "acme", "--client-id", creds["client_id"], "--client-secret", creds["client_secret"]]
    out = run([*args, "--grant-code", self_client_code(world, creds["admin"]["zuid"])], env)
    assert out.returncode == 0, out.stderr
    assert get_integration(make_engine(sqlite_migrated_url), "acme").sealed_credentials != before
    bad = run([*args, "--grant-code", "1000.not.a-code"], env)
    assert bad.returncode == 2 and "generate a new one in the Zoho API console" in bad.stderr
