"""``bpsync rotate-key``: re-encrypt every stored secret under the newest key of BPSYNC_SECRET_KEY."""

from __future__ import annotations

import click

from scheduler.cli_support import EXIT_FAILED, emit_json, friendly_errors, settings
from scheduler.commands.sync import fail, quiet_logging


@click.command("rotate-key")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def rotate_key_command(as_json: bool) -> None:
    """Re-encrypt every integration's credentials (and the Zoho access tokens cached in Redis) under the first key
    of BPSYNC_SECRET_KEY.

    To rotate: set BPSYNC_SECRET_KEY="NEW,OLD" everywhere, run this, then set BPSYNC_SECRET_KEY="NEW". Running it
    again changes nothing. If some credentials open with none of the keys, nothing is written.
    """
    from scheduler.key_rotation import KeyRotationRefused, rotate_key
    from shared.db.engine import require_schema

    conf = settings()
    quiet_logging(conf)
    engine = require_schema(conf.database_url)
    redis = None
    if conf.shared_redis_url:
        import redis as redis_lib

        redis = redis_lib.Redis.from_url(conf.shared_redis_url)
    try:
        rotation = rotate_key(engine, conf, redis=redis, progress=None if as_json else click.echo)
    except KeyRotationRefused as exc:
        fail(str(exc), EXIT_FAILED)
    if as_json:
        emit_json(rotation.as_json())
        return
    total = len(rotation.resealed) + len(rotation.current)
    click.echo(
        f"credentials of {total} integration(s): {len(rotation.resealed)} re-encrypted, {len(rotation.current)} "
        f"already under the newest key; {rotation.cached_tokens_resealed} cached Zoho access token(s) re-encrypted"
    )
    if rotation.keys > 1:
        click.echo("everything stored now opens with the first key alone: the other keys can be dropped")


COMMANDS = [rotate_key_command]
