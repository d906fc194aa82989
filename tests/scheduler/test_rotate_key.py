"""``bpsync rotate-key``: connect under key A, rotate with BPSYNC_SECRET_KEY="B,A", and B alone still opens everything
(real processes against the sandbox; the token cache part against real Redis)."""

from __future__ import annotations

import json
import time

import pytest
import redis as redis_lib

from sandbox.generator import credentials
from scheduler.key_rotation import KeyRotationRefused, rotate_key
from shared import crypto
from shared.config import load_settings
from shared.db.engine import make_engine
from shared.db.integrations import create_integration, get_integration
from shared.zoho.factory import redis_token_cache, reset_embedded_state
from shared.zoho.oauth import CachedToken
from tests.scheduler.test_sync_commands import base_env, run

KEY_A, KEY_B, KEY_C = crypto.new_key(), crypto.new_key(), crypto.new_key()


@pytest.fixture
def world(sandbox_factory):
    reset_embedded_state()
    return sandbox_factory(size="tiny")


def connect_under_a(url, server):
    creds = credentials(server.world)
    env = base_env(url, server) | {"BPSYNC_SECRET_KEY": KEY_A}
    secrets = {
        "BPSYNC_CONNECT_CLIENT_ID": creds["client_id"],
        "BPSYNC_CONNECT_CLIENT_SECRET": creds["client_secret"],
        "BPSYNC_CONNECT_REFRESH_TOKEN": creds["admin"]["refresh_token"],
    }
    out = run(["connect", "--name", "acme", "--organization", creds["organization_id"]], env | secrets)
    assert out.returncode == 0, out.stderr
    return env


def test_after_rotating_the_old_key_can_be_dropped(sqlite_migrated_url, world):
    env = connect_under_a(sqlite_migrated_url, world)
    assert run(["disable", "acme"], env).returncode == 0

    rotated = run(["rotate-key", "--json"], env | {"BPSYNC_SECRET_KEY": f"{KEY_B},{KEY_A}"})
    assert rotated.returncode == 0, rotated.stderr
    assert json.loads(rotated.stdout) == {
        "keys": 2,
        "resealed": ["acme"],
        "already_current": [],
        "cached_tokens_resealed": 0,
        "cached_tokens_dropped": 0,
    }
    again = run(["rotate-key"], env | {"BPSYNC_SECRET_KEY": f"{KEY_B},{KEY_A}"})
    assert again.returncode == 0 and "acme: already under the newest key" in again.stdout
    assert "0 re-encrypted, 1 already under the newest key" in again.stdout

    old_only = run(["enable", "acme"], env)  # key A alone no longer opens them: they really were re-encrypted
    assert old_only.returncode == 2 and "cannot be decrypted with BPSYNC_SECRET_KEY" in old_only.stderr
    new_only = run(["enable", "acme", "--json"], env | {"BPSYNC_SECRET_KEY": KEY_B})
    assert new_only.returncode == 0, new_only.stderr  # enable opens the credentials and checks them with Zoho
    assert json.loads(new_only.stdout)["state"] == "active"


def test_credentials_no_key_opens_refuse_the_rotation_and_nothing_is_written(sqlite_migrated_url, world):
    env = connect_under_a(sqlite_migrated_url, world)
    engine = make_engine(sqlite_migrated_url)
    lost = load_settings(database_url=sqlite_migrated_url, secret_key=KEY_C)
    create_integration(engine, lost, name="lost", organization_id="1", portal_id="2", credentials={"x": "y"})
    before = get_integration(engine, "acme").sealed_credentials

    refused = run(["rotate-key"], env | {"BPSYNC_SECRET_KEY": f"{KEY_B},{KEY_A}"})
    assert refused.returncode == 1
    assert "the credentials of 'lost' open with none of the keys" in refused.stderr
    assert "bpsync update-credentials lost" in refused.stderr
    assert get_integration(engine, "acme").sealed_credentials == before


def test_cached_access_tokens_are_resealed_too(sqlite_migrated_url, redis_url):
    client = redis_lib.Redis.from_url(redis_url)
    engine = make_engine(sqlite_migrated_url)
    common = {"database_url": sqlite_migrated_url, "redis_key_prefix": "rot", "broker_url": redis_url}
    token = CachedToken("1000.access", time.time() + 600, "https://www.zohoapis.com")
    redis_token_cache(load_settings(**common, secret_key=KEY_A), client).put("cred", token)
    redis_token_cache(load_settings(**common, secret_key=KEY_C), client).put("stray", token)

    rotation = rotate_key(engine, load_settings(**common, secret_key=f"{KEY_B},{KEY_A}"), redis=client)
    assert (rotation.cached_tokens_resealed, rotation.cached_tokens_dropped) == (1, 1)
    assert redis_token_cache(load_settings(**common, secret_key=KEY_B), client).get("cred") == token
    assert 0 < client.pttl("rot:zoho:token:cred") <= 600_000  # the expiry is kept
    assert client.get("rot:zoho:token:stray") is None
    client.close()


def test_a_refusal_names_every_unreadable_integration(sqlite_migrated_url):
    engine = make_engine(sqlite_migrated_url)
    for name, key in (("one", KEY_C), ("two", KEY_C)):
        settings = load_settings(database_url=sqlite_migrated_url, secret_key=key)
        create_integration(engine, settings, name=name, organization_id=name, portal_id="p", credentials={})
    with pytest.raises(KeyRotationRefused, match="'one', 'two'"):
        rotate_key(engine, load_settings(database_url=sqlite_migrated_url, secret_key=KEY_A))
