"""What every bpsync command shares: settings, one-line admin errors, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click
from alembic.util import CommandError

from scheduler.zoho_failures import one_shot_failure
from shared.config import ConfigError, Settings, get_settings
from shared.crypto import CredentialsError
from shared.db.engine import SchemaNotReady
from shared.db.integrations import IntegrationNotFound
from shared.modules import UnknownModule
from shared.zoho.errors import ZohoError

# CommandError: alembic's "Can't locate revision 'x'" and the like (bpsync db upgrade/downgrade)
ADMIN_ERRORS = (ConfigError, SchemaNotReady, CredentialsError, IntegrationNotFound, UnknownModule, CommandError)

EXIT_CONFIG = 2
EXIT_FAILED = 1


def friendly_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Configuration and schema problems are admin errors: one clear line, no traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ADMIN_ERRORS as exc:
            message = exc.args[0] if isinstance(exc, LookupError) and exc.args else exc
            click.echo(f"error: {message}", err=True)
            sys.exit(EXIT_CONFIG)
        except ZohoError as exc:  # Zoho failed or is unreachable while the command asked it (customers, finance)
            click.echo(f"error: Zoho did not answer: {one_shot_failure(exc, settings())}", err=True)
            sys.exit(EXIT_FAILED)

    return wrapper


def settings() -> Settings:
    return get_settings()


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
