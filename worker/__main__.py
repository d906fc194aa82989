"""``python -m worker``: the Celery worker of the sync and instant queues, what ``bpsync worker`` runs.

Celery's own worker command (its options, ``%h`` in node names, ``--detach``, the banner), run without the
``celery`` umbrella command: that one imports every sub-command and every installed plugin before it parses a word
(Flower's web app, the ``amqp`` shell's prompt toolkit: ``import celery.bin.celery`` takes ~0.5 CPU-seconds, the
worker command alone ~0.25), paid again by every worker a host or a supervisor restarts. The schema is checked here,
once, before the pool processes fork (they inherit the answer) instead of in each at its first task. Measured to
ready, a worker starts in ~1 CPU-second either way, ~0.1 less this way. ``celery -A worker.app worker -Q
sync,instant`` starts the same worker.
"""

from __future__ import annotations

import sys

QUEUE_OPTIONS = ("-Q", "--queues")


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    from worker.app import app  # a bad setting is refused here, in one line (worker/app.py)

    if "--help" not in args:  # the options are readable without a database
        _require_schema()
    if not any(a.startswith(QUEUE_OPTIONS) for a in args):
        args = ["-Q", "sync,instant", *args]
    from celery.bin.base import CLIContext
    from celery.bin.worker import worker

    # Celery starts the worker again from sys.argv in two cases: SIGHUP (off a terminal) re-executes ``python`` +
    # sys.argv, which must read ``-m worker`` (the path of this file would run it as a script, its folder first on
    # the import path); --detach runs ``python -m celery`` + sys.argv[1:], which needs the umbrella command's
    # arguments (app and command) to start the same worker
    detach = bool({"--detach", "-D"} & set(args))
    sys.argv = ["celery", "-A", "worker.app", "worker", *args] if detach else ["-m", "worker", *args]
    worker.main(args, prog_name="bpsync worker", obj=CLIContext(app=app, no_color=False, workdir=None))


def _require_schema() -> None:
    """Refuse to start on a database that is not at the head revision, in one line (as every ``bpsync`` command)."""
    from shared.config import get_settings
    from shared.db.engine import SchemaNotReady, require_schema

    try:
        engine = require_schema(get_settings().database_url)
    except SchemaNotReady as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    engine.dispose()  # the pool processes open their own connections; this one would idle for the worker's life


if __name__ == "__main__":
    main()
