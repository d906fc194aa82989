"""compose.yaml and Procfile are valid and every command in them is a real command of this project."""

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
