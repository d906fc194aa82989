"""The schema revision this code needs, read from the migration scripts' lines: no alembic, no SQLAlchemy.

``bpsync status`` checks the database against it before reading with a bare driver connection
(scheduler/status/source.py); shared/db/engine.py's ``head_revision`` reads the same lines (and asks alembic
when the scripts branch, which ours never do; tests/shared/db/test_revisions.py checks the two agree).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)


@functools.cache
def script_head() -> str | None:
    """The revision no script names as its down_revision; None when there is not exactly one."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for key, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            (revisions if key == "revision" else parents).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None
