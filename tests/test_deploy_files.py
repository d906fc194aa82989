"""compose.yaml and Procfile are valid and every command in them is a real command of this project."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from scheduler.cli import main as bpsync

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
PROCFILE = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())


def compose_commands() -> dict[str, list[str]]:
    return {name: svc["command"] for name, svc in COMPOSE["services"].items() if "command" in svc}


def assert_real_command(argv: list[str]) -> None:
    if argv[0] == "bpsync":
        sub = [a for a in argv[1:] if not a.startswith("-")][:2]
        result = CliRunner().invoke(bpsync, [*sub, "--help"])
        assert result.exit_code == 0, f"bpsync {' '.join(sub)}: {result.output}"
    elif argv[0] == "celery":
        assert argv[1:3] == ["-A", "worker.app"], argv
        out = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "worker.app", argv[3], "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert out.returncode == 0, out.stderr
    elif argv[0] != "redis-server":
        pytest.fail(f"unknown command {argv}")


def test_compose_has_the_whole_stack():
    assert {"postgres", "redis", "worker", "beat", "flower", "web", "sandbox"} <= set(COMPOSE["services"])
    for name, svc in COMPOSE["services"].items():
        assert "image" in svc or "build" in svc, name
        for dep in svc.get("depends_on", {}):
            assert dep in COMPOSE["services"], f"{name} depends on unknown {dep}"


def test_long_running_services_are_restarted_when_they_exit():
    # a worker that exits (e.g. on an error Celery deems unrecoverable) must come back; the one-shot migrate must not
    for name in ("worker", "beat", "web", "flower"):
        assert COMPOSE["services"][name].get("restart") in ("always", "unless-stopped", "on-failure"), name
    assert COMPOSE["services"]["migrate"].get("restart") == "no"


@pytest.mark.parametrize("service", sorted(compose_commands()))
def test_compose_commands_exist(service):
    assert_real_command(compose_commands()[service])


@pytest.mark.parametrize("process", sorted(PROCFILE))
def test_procfile_commands_exist(process):
    assert process in {"worker", "beat", "flower", "web"}
    command = PROCFILE[process].replace("${PORT:-8000}", "8000")
    assert_real_command(shlex.split(command))


def test_compose_requires_a_web_token_and_a_flower_login_and_keeps_flower_local():
    env = COMPOSE["x-app"]["environment"]
    assert env["BPSYNC_WEB_TOKEN"].startswith("${BPSYNC_WEB_TOKEN:?"), "no default web token: compose must refuse"
    assert "change-me" not in (ROOT / "compose.yaml").read_text()
    flower = COMPOSE["services"]["flower"]
    assert any(arg.startswith("--basic-auth=${FLOWER_BASIC_AUTH:?") for arg in flower["command"]), flower["command"]
    assert flower["ports"] == ["${FLOWER_BIND:-127.0.0.1}:5555:5555"]
    procfile_flower = shlex.split(PROCFILE["flower"])
    assert any(arg.startswith("--basic-auth=${FLOWER_BASIC_AUTH:?") for arg in procfile_flower), procfile_flower


def _web(monkeypatch, tmp_path, **env: str):
    from shared.config import get_settings

    for key in [k for k in os.environ if k.startswith("BPSYNC_")]:
        monkeypatch.delenv(key)
    env = {"BPSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'unmigrated.sqlite'}", **env}
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(bpsync, ["web", "--port", "0"], env=env)
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("token", "complaint"),
    [
        (None, "not set"),
        ("change-me", "well-known default"),
        ("ChangeMe", "well-known default"),
        ("secret", "well-known default"),
        ("s3cr3t-but-short", "too short"),
        ("x" * 40, "too simple"),
    ],
)
def test_web_refuses_a_missing_default_or_short_token_outside_embedded_mode(monkeypatch, tmp_path, token, complaint):
    env = {"BPSYNC_BROKER_URL": "redis://127.0.0.1:6379/0"} | ({"BPSYNC_WEB_TOKEN": token} if token else {})
    result = _web(monkeypatch, tmp_path, **env)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: BPSYNC_WEB_TOKEN: ") and complaint in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "env",
    [
        {
            "BPSYNC_BROKER_URL": "redis://127.0.0.1:6379/0",
            "BPSYNC_WEB_TOKEN": "9f2c4e1a7b3d5f6e8a0c2b4d6f8e1a3c5b7d9f0e",
        },
        {},  # embedded mode (memory broker): one person's machine, no token needed to start
    ],
)
def test_web_starts_with_a_strong_token_or_in_embedded_mode(monkeypatch, tmp_path, env):
    result = _web(monkeypatch, tmp_path, **env)
    # past the token check: it stops at the unmigrated database instead of serving
    assert result.exit_code == 2 and "bpsync db upgrade" in result.stderr, result.output
    assert "BPSYNC_WEB_TOKEN" not in result.stderr
