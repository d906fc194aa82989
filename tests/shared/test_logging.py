"""Structured logs: sync ids on every line (also inside a real Celery worker), JSON option, no secret ever."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest
from celery import Celery

from scheduler.embedded import running_worker
from shared.config import load_settings
from shared.logging import REDACTED, configure_logging, redact, sync_log_context

ZOHO_TOKEN = "1000.0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210"


@pytest.fixture
def capture():
    """configure_logging into a buffer; returns (buffer, settings factory) and removes the handler after."""
    stream = io.StringIO()
    handlers: list[logging.Handler] = []

    def configure(**overrides):
        handlers.append(configure_logging(load_settings(**overrides), stream=stream))
        return stream

    yield configure
    for handler in handlers:
        logging.getLogger().removeHandler(handler)


@pytest.mark.parametrize(
    "text",
    [
        f"POST /oauth/v2/token refresh_token={ZOHO_TOKEN}&client_secret=s3cr3t&grant_type=refresh_token",
        '{"client_id": "1000.X", "client_secret": "s3cr3t", "refresh_token": "abc"}',
        "Authorization: Zoho-oauthtoken s3cr3t",
        "headers {'Authorization': 'Bearer s3cr3t'}",
        "BPSYNC_SECRET_KEY=s3cr3t= BPSYNC_WEB_TOKEN=s3cr3t",
        "GET /status?token=s3cr3t&x=1",
        "grant code=s3cr3t",
        f"Zoho said the token {ZOHO_TOKEN} is invalid",
    ],
)
def test_secrets_are_redacted_in_every_shape(text):
    out = redact(text)
    assert "s3cr3t" not in out and ZOHO_TOKEN not in out and REDACTED in out


def test_what_is_not_a_secret_stays_readable():
    text = 'Books refused (HTTP 400, code 1070) {"code": 1070}; token refresh lock timed out; passcode=12'
    assert redact(text) == text


def test_text_lines_carry_sync_ids_and_never_the_secret_even_in_tracebacks(capture):
    stream = capture(log_level="INFO")
    log = logging.getLogger("worker.engine")
    with sync_log_context(integration_id=3, run_id=41, module="tasks"):
        log.info("refreshing with %s", f"refresh_token={ZOHO_TOKEN}")
        try:
            raise RuntimeError(f"Zoho-oauthtoken {ZOHO_TOKEN} rejected")
        except RuntimeError:
            log.exception("call failed")
    log.info("outside")
    lines = stream.getvalue()
    assert ZOHO_TOKEN not in lines
    first, *_ = lines.splitlines()
    assert "INFO worker.engine [integration=3 run=41 module=tasks] refreshing with refresh_token=[redacted]" in first
    assert "RuntimeError: Zoho-oauthtoken [redacted] rejected" in lines
    assert lines.splitlines()[-1].endswith("INFO worker.engine outside")


def test_json_lines_have_the_ids_as_keys(capture):
    stream = capture(log_level="INFO", log_json=True)
    with sync_log_context(integration_id=3, run_id=41, module="projects"):
        logging.getLogger("worker.modules.projects").warning("project %s skipped", "P-1")
    entry = json.loads(stream.getvalue().splitlines()[-1])
    assert entry["message"] == "project P-1 skipped"
    assert (entry["integration_id"], entry["run_id"], entry["module"], entry["level"]) == (3, 41, "projects", "WARNING")


def test_a_celery_task_in_a_real_worker_logs_its_task_and_module_run_ids(capture):
    stream = capture(log_level="INFO", log_json=True)
    app = Celery("logtest", broker="memory://")
    app.conf.update(
        broker_transport_options={"polling_interval": 0.01}, task_default_queue="sync", worker_hijack_root_logger=False
    )

    @app.task(name="bpsync.sync.logtest")
    def logtest(module_run_id: int) -> str:
        with sync_log_context(integration_id=7, run_id=70, module="users"):
            logging.getLogger("worker.tasks.sync").info("slice done")
        done.set()
        return "ok"

    done = threading.Event()
    with running_worker(app):
        task_id = logtest.apply_async(kwargs={"module_run_id": 99}).id
        assert done.wait(30), "the worker did not run the task"
    entries = [json.loads(line) for line in stream.getvalue().splitlines() if '"slice done"' in line]
    assert entries, stream.getvalue()
    assert entries[0] | {"time": None} == {
        "time": None,
        "level": "INFO",
        "logger": "worker.tasks.sync",
        "message": "slice done",
        "integration_id": 7,
        "run_id": 70,
        "module": "users",
        "module_run_id": 99,
        "task_id": task_id,
    }
