"""The ops read side: status badges, sync history, error summary/details, per-project view, metrics.

Everything here only reads the database (the source of truth for runs and errors); the CLI, the web pages,
the JSON API and /metrics all show the same answers. ``as_json()`` of each result gives the stable keys
documented in README ("Ops: status, history, errors").

The names below load with their module on first use: ``bpsync status``, ``history`` and ``errors`` read without
SQLAlchemy (scheduler/status/reads.py), which the metrics and per-project modules import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scheduler.status.badges import LABELS, Badge
    from scheduler.status.errors import (
        ErrorDetail,
        ErrorGroup,
        SyncErrorNotFound,
        error_details,
        error_summary,
        get_error,
    )
    from scheduler.status.history import HistoryEntry, run_status, sync_history
    from scheduler.status.metrics import MetricsSnapshot, metrics_snapshot
    from scheduler.status.overview import IntegrationStatus, ModuleStatus, integration_statuses
    from scheduler.status.projects import (
        ProjectDetail,
        ProjectNotFound,
        ProjectSummary,
        project_detail,
        project_summaries,
    )

_MODULES = {
    "badges": ("LABELS", "Badge"),
    "errors": ("ErrorDetail", "ErrorGroup", "SyncErrorNotFound", "error_details", "error_summary", "get_error"),
    "history": ("HistoryEntry", "run_status", "sync_history"),
    "metrics": ("MetricsSnapshot", "metrics_snapshot"),
    "overview": ("IntegrationStatus", "ModuleStatus", "integration_statuses"),
    "projects": ("ProjectDetail", "ProjectNotFound", "ProjectSummary", "project_detail", "project_summaries"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [  # every name of _MODULES (tests/scheduler/test_startup.py checks each loads)
    "LABELS",
    "Badge",
    "ErrorDetail",
    "ErrorGroup",
    "HistoryEntry",
    "IntegrationStatus",
    "MetricsSnapshot",
    "ModuleStatus",
    "ProjectDetail",
    "ProjectNotFound",
    "ProjectSummary",
    "SyncErrorNotFound",
    "error_details",
    "error_summary",
    "get_error",
    "integration_statuses",
    "metrics_snapshot",
    "project_detail",
    "project_summaries",
    "run_status",
    "sync_history",
]
