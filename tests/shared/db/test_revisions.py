"""The status's SQLAlchemy-free schema check needs the same head revision as every other command's."""

from __future__ import annotations

from shared.db.engine import head_revision
from shared.db.revisions import script_head


def test_the_scripts_head_is_the_engines_head_revision():
    assert script_head() == head_revision() is not None
