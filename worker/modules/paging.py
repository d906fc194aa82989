"""The ways a sync module reads its source, declared on the module (``SyncModule.paging``).

The engine asks the declared paging for one page at a time and keeps the cursor it returns in the module run's
checkpoint, so a resumed slice continues exactly where the last one stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worker.modules.base import SourcePage, SyncContext


@dataclass(frozen=True)
class Custom:
    """A module that pages itself: ``pages(ctx, cursor)`` returns one page and the cursor after it."""

    pages: Callable[[SyncContext, dict[str, Any] | None], SourcePage]

    def page(self, ctx: SyncContext, cursor: dict[str, Any] | None) -> SourcePage:
        return self.pages(ctx, cursor)
