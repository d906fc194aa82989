"""The ops read side: status badges, sync history, error summary/details, per-project view, metrics.

Everything here only reads the database (the source of truth for runs and errors); the CLI, the web pages,
the JSON API and /metrics all show the same answers. ``as_json()`` of each result gives the stable keys
documented in README ("Ops: status, history, errors").
"""

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
from scheduler.status.projects import ProjectDetail, ProjectNotFound, ProjectSummary, project_detail, project_summaries

__all__ = [
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
