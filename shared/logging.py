"""Structured logs: which integration, run and module a line is about, optionally as JSON, never a secret.

    configure_logging(settings)              # CLI commands and the worker process (worker/app.py) call this
    with sync_log_context(integration_id=3, run_id=41, module="tasks"):
        log.info("page fetched")             # -> "... [integration=3 run=41 module=tasks] page fetched"

The ids live in a ``contextvars.ContextVar``, so they follow the code that set them (one Celery task in a
thread-pool worker) without passing a logger adapter around. Celery's task signals bind the task id and the
task's keyword arguments (``module_run_id``) for every task automatically; the sync task adds the rest once it
has claimed its module run.

Redaction is a handler filter, so it also covers third-party loggers (requests, urllib3, celery) that might
print a URL with a token or a form with a client secret. It works on the final text, including tracebacks.

Why no logging library: the JSON formatter is ``json.dumps`` of six fields; python-json-logger would need field
renames and a time format to keep the keys admins' pipelines read (``time``, ``level``, ``logger``, ``message``,
the ids, ``exception``), so it would add a dependency without removing a decision. structlog keeps context in
contextvars as we do, but third-party lines reach it only through the stdlib anyway, and redaction has to know
our secrets (Zoho's ``1000.<hex>.<hex>`` token shape, OAuth form fields), which no library ships; a stdlib
filter on the final text is what covers requests/urllib3/celery lines and tracebacks alike.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.config import Settings

CONTEXT_FIELDS = ("integration_id", "run_id", "module", "module_run_id", "task_id")
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("bpsync_log_context", default={})  # noqa: B039
REDACTED = "[redacted]"

# What a secret looks like in our logs: OAuth parameters in forms/URLs/JSON, Authorization headers, and Zoho's
# token format itself ("1000.<32 hex>.<32 hex>"), which also catches a token pasted into an error message.
_SECRET_NAMES = r"(?:refresh_token|access_token|client_secret|secret_key|password|token|secret)"
_VALUE = r"""(?P<value>[^"'&\s,;}]+)"""


@functools.cache  # compiled when a line is first logged: bpsync status logs none, and they cost its start ~2 ms
def _patterns() -> tuple[re.Pattern[str], ...]:
    return (
        re.compile(rf"""(?P<key>(?<![A-Za-z]){_SECRET_NAMES}["']?\s*[:=]\s*["']?){_VALUE}""", re.IGNORECASE),
        # an OAuth authorization code only in form/URL style: "code": 1070 is a Zoho error code, not a secret
        re.compile(rf"(?P<key>(?<![A-Za-z])code=){_VALUE}"),
        re.compile(rf"(?P<key>(?:Zoho-oauthtoken|Bearer|Basic)\s+){_VALUE}", re.IGNORECASE),
        re.compile(r"(?P<key>)(?P<value>\b1000\.[0-9a-f]{32}\.[0-9a-f]{32}\b)"),
    )


def redact(text: str) -> str:
    """Replace every secret-looking value in ``text`` with ``[redacted]`` (keys stay, so the line still reads)."""
    for pattern in _patterns():
        text = pattern.sub(lambda m: f"{m.group('key')}{REDACTED}", text)
    return text


# --------------------------------------------------------------------------------------------- context
def current_context() -> dict[str, Any]:
    return dict(_context.get())


def bind(**ids: Any) -> contextvars.Token[dict[str, Any]]:
    """Add ids to the current context (until ``unbind(token)``); ``None`` values are ignored."""
    merged = {**_context.get(), **{k: v for k, v in ids.items() if v is not None}}
    return _context.set(merged)


def unbind(token: contextvars.Token[dict[str, Any]]) -> None:
    _context.reset(token)


@contextmanager
def sync_log_context(**ids: Any) -> Iterator[None]:
    token = bind(**ids)
    try:
        yield
    finally:
        unbind(token)


# --------------------------------------------------------------------------------------------- filters
class SyncContextFilter(logging.Filter):
    """Puts the bound ids on each record as ``record.sync_ids`` (a dict in CONTEXT_FIELDS order).

    One attribute rather than one per id: ``LogRecord.module`` already exists (the Python module's name).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        bound = _context.get()
        record.sync_ids = {name: bound[name] for name in CONTEXT_FIELDS if bound.get(name) is not None}
        return True


def _sync_ids(record: logging.LogRecord) -> dict[str, Any]:
    return getattr(record, "sync_ids", None) or {}


class RedactSecrets(logging.Filter):
    """Rewrites the message (and any traceback) of each record with secrets replaced by ``[redacted]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed %-format: keep the raw msg rather than drop the line
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None  # the (redacted) exc_text is what formatters print
        return True


# --------------------------------------------------------------------------------------------- formatters
class TextFormatter(logging.Formatter):
    """``2024-05-01 12:00:00,000 INFO worker.engine [integration=3 run=41 module=tasks] message``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(ids)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        pairs = [f"{name.removesuffix('_id')}={value}" for name, value in _sync_ids(record).items()]
        record.ids = f" [{' '.join(pairs)}]" if pairs else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the bound ids, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_sync_ids(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str)


# --------------------------------------------------------------------------------------------- set-up
HANDLER_NAME = "bpsync"
# Loggers that are noisy at INFO and say nothing an admin can act on.
QUIET_LOGGERS = {
    "urllib3": logging.WARNING,
    "celery.worker.strategy": logging.WARNING,
    # require_schema checks the revision per task: "Context impl PostgresqlImpl" on every task is noise
    "alembic.runtime.migration": logging.WARNING,
    # alembic 1.17+ logs each of its autogenerate plugins at start-up: seven lines on every `bpsync db upgrade`
    "alembic.runtime.plugins": logging.WARNING,
}


def build_handler(settings: Settings, stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(SyncContextFilter())
    handler.addFilter(RedactSecrets())
    handler.setFormatter(JsonFormatter() if settings.log_json else TextFormatter())
    return handler


def configure_logging(settings: Settings, *, stream: Any = None, level: str | None = None) -> logging.Handler:
    """Install one root handler (replacing an earlier one of ours); idempotent, safe to call per command."""
    root = logging.getLogger()
    for existing in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(existing)
    handler = build_handler(settings, stream)
    root.addHandler(handler)
    root.setLevel((level or settings.log_level).upper())
    for name, quiet_level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet_level)
    if settings.embedded:
        # kombu warns "No hostname was supplied" on every memory:// connection: expected in embedded mode.
        logging.getLogger("kombu.connection").setLevel(logging.ERROR)
    if "celery" in sys.modules:  # a command that runs no task never loads Celery for it; create_celery installs it
        install_task_context()
    return handler


# --------------------------------------------------------------------------------------------- celery
_task_tokens: dict[str, contextvars.Token[dict[str, Any]]] = {}


def _task_started(task_id: str | None = None, kwargs: dict[str, Any] | None = None, **_: Any) -> None:
    if task_id:
        _task_tokens[task_id] = bind(task_id=task_id, module_run_id=(kwargs or {}).get("module_run_id"))


def _task_finished(task_id: str | None = None, **_: Any) -> None:
    token = _task_tokens.pop(task_id or "", None)
    if token is not None:
        try:
            unbind(token)
        except ValueError:  # finished in another context than it started (should not happen): start clean
            _context.set({})


def install_task_context() -> None:
    """Every Celery task's log lines carry its task id and module_run_id (signals; idempotent)."""
    from celery import signals

    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="bpsync-log-context-start")
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid="bpsync-log-context-end")


def install_worker_logging() -> None:
    """For ``celery -A worker.app worker``: our handler instead of Celery's own logging set-up."""
    from celery import signals

    def setup(**_: Any) -> None:
        from shared.config import get_settings

        configure_logging(get_settings())

    signals.setup_logging.connect(setup, weak=False, dispatch_uid="bpsync-worker-logging")
