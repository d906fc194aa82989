"""What every bpsync command shares: settings, one-line admin errors, JSON output.

Imported by every command module when ``bpsync`` starts, so it imports nothing heavy (pydantic, SQLAlchemy,
alembic, requests): those load inside the command that runs, and ``bpsync --version`` starts fast
(tests/scheduler/test_startup.py keeps it so).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from shared.config import Settings

EXIT_CONFIG = 2
EXIT_FAILED = 1


class Seconds(click.ParamType):
    """A number of seconds, 0 or more: ``nan`` and ``inf`` are refused too (click's FloatRange lets nan through)."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds (e.g. 60)", param, ctx)
        if not 0 <= seconds < float("inf"):  # False for nan as well
            self.fail(f"{value!r} is not a number of seconds of 0 or more (e.g. 60)", param, ctx)
        return seconds


# Errors an admin fixes (a setting, the schema, a name): one line and exit 2. CommandError: alembic's "Can't locate
# revision 'x'" and the like (bpsync db upgrade/downgrade).
ADMIN_ERRORS = (
    ("shared.config", "ConfigError"),
    ("shared.db.engine", "SchemaNotReady"),
    ("shared.crypto", "CredentialsError"),
    ("shared.db.integrations", "IntegrationNotFound"),
    ("shared.modules", "UnknownModule"),
    ("alembic.util", "CommandError"),
)


def loaded_classes(names: Sequence[tuple[str, str]]) -> tuple[type[Exception], ...]:
    """The classes named whose modules are loaded: an exception raised is of a class already imported, so a command
    refusing a bad setting need not import SQLAlchemy and alembic (~0.7 s) to say so (issue 19)."""
    return tuple(getattr(module, name) for module_name, name in names if (module := sys.modules.get(module_name)))


def admin_errors() -> tuple[type[Exception], ...]:
    """Errors an admin fixes (a setting, the schema, a name): one line and exit 2."""
    return loaded_classes(ADMIN_ERRORS)


def friendly_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Configuration and schema problems are admin errors: one clear line, no traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if isinstance(exc, admin_errors()):
                message = exc.args[0] if isinstance(exc, LookupError) and exc.args else exc
                click.echo(f"error: {message}", err=True)
                sys.exit(EXIT_CONFIG)
            from shared.zoho.errors import ZohoError

            if isinstance(exc, ZohoError):  # Zoho failed or is unreachable while the command asked it (finance)
                from scheduler.zoho_failures import one_shot_failure

                click.echo(f"error: Zoho did not answer: {one_shot_failure(exc, settings())}", err=True)
                sys.exit(EXIT_FAILED)
            raise

    return wrapper


_logging_for: list[Settings] = []  # the settings logging was configured with (a new object: a new configuration)


def settings() -> Settings:
    """The settings (a bad one raises ConfigError, reported in one line); the first call of a command also sets
    up logging with them, here rather than when bpsync starts, which loads no settings library for --help."""
    from shared.config import get_settings

    conf = get_settings()
    if not _logging_for or _logging_for[0] is not conf:
        from shared.logging import configure_logging

        configure_logging(conf)
        _logging_for[:] = [conf]
    return conf


def emit_json(data: Any, *, utc_datetimes: bool = False) -> None:
    """Indented, sorted keys; what JSON has no type for (a datetime, a dataclass) as its ``str``.

    orjson, not the standard library: ``json.dumps`` indents in pure Python, 0.5 s of ``bpsync status --json`` at
    1,000 integrations (4 MB of text; issue 19). What orjson refuses (an integer beyond 64 bits, a lone surrogate)
    still goes out, through ``json.dumps``.

    ``utc_datetimes``: the datetimes in ``data`` are UTC or naive (meaning UTC) and go out as
    ``scheduler.status.timefmt.iso`` writes them (``2026-01-02T03:04:05.678901Z``), not as their ``str``.
    """
    text = _json_bytes(data, utc_datetimes)
    # bytes go to the binary stream as they are (click finds it): 4.4 MB decoded to be encoded again cost ~3 ms
    click.echo(text if hasattr(sys.stdout, "buffer") else text.decode())


def json_text(data: Any, *, utc_datetimes: bool = False) -> str:
    """What ``emit_json`` writes."""
    return _json_bytes(data, utc_datetimes).decode()


def _json_bytes(data: Any, utc_datetimes: bool) -> bytes:
    import orjson

    options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
    # dataclasses through ``default=str``, as ``json.dumps(default=str)`` writes them; datetimes too unless UTC
    options |= orjson.OPT_PASSTHROUGH_DATACLASS
    options |= orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC if utc_datetimes else orjson.OPT_PASSTHROUGH_DATETIME
    try:
        try:
            return orjson.dumps(data, default=str, option=options)
        except orjson.JSONEncodeError:
            # a key that is not a string (an id): orjson writes it as json.dumps does with OPT_NON_STR_KEYS, which
            # is asked for only now because it makes every key cost more (3 of the 10 ms of a status of 1,000)
            return orjson.dumps(data, default=str, option=options | orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        import datetime as dt
        import json

        def default(value: Any) -> str:
            if utc_datetimes and isinstance(value, dt.datetime):
                from scheduler.status.timefmt import iso

                return str(iso(value))
            return str(value)

        return json.dumps(data, indent=2, sort_keys=True, default=default).encode()
