"""The newest migration script's revision, read from the scripts' lines without alembic or SQLAlchemy.

Every process checks the database is at this revision before it works; ``bpsync status`` checks it with the
driver alone (scheduler/status/source.py), so this must not import SQLAlchemy (issue 19: start-up time).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)


@functools.cache
def script_head() -> str | None:
    """The revision no script names as its down_revision; None unless exactly one (the scripts branch: ours
    never do, and alembic then has the answer)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for key, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            (revisions if key == "revision" else parents).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None
