"""/metrics: Prometheus text format, computed from the database at scrape time.

A custom collector (not counters incremented in this process) because the work happens in the workers: the
database is where every worker's results meet, so any web replica reports the whole deployment.

Zoho API calls are counted per module run and API (module_runs.projects_calls/books_calls), 429 answers in
module_runs.throttled_calls, and added to the integration's totals when the module run ends;
``bpsync_quota_wait_seconds`` is how long an integration still waits for Zoho's quota to reopen. Which labels
are kept, and why: README, "/metrics".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scheduler.status import metrics_snapshot


class StatusCollector:
    """Reads one MetricsSnapshot per scrape and exposes it as metric families."""

    def __init__(self, engine: Callable[[], sa.Engine]) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        s = metrics_snapshot(self._engine())
        yield _gauge(
            "bpsync_modules_in_progress",
            "Modules with a queued or running module run (Sync in Progress); absent when idle.",
            ("integration", "module"),
            s.modules_in_progress,
        )
        yield _counter(
            "bpsync_module_runs",
            "Module runs that ended, by module and status (all integrations).",
            ("module", "status"),
            s.module_runs_by_status,
        )
        yield _counter(
            "bpsync_sync_runs",
            "Sync runs that ended, by outcome (all integrations).",
            ("status",),
            {(k,): v for k, v in s.sync_runs_by_status.items()},
        )
        yield _counter(
            "bpsync_records",
            "Records handled by module runs that ended, by module and outcome (all integrations).",
            ("module", "outcome"),
            s.records,
        )
        yield _counter(
            "bpsync_api_calls",
            "Zoho API calls made by module runs that ended, per integration and API.",
            ("integration", "api"),
            s.api_calls,
        )
        yield _counter(
            "bpsync_api_throttled",
            "Zoho answers with HTTP 429 (rate limited) received by module runs that ended, per integration.",
            ("integration", "api"),
            s.throttled_calls,
        )
        yield _gauge(
            "bpsync_open_errors",
            "Open sync errors (records failing or blocked) of the integration; absent without any.",
            ("integration",),
            {(k,): v for k, v in s.open_errors.items()},
        )
        yield _gauge(
            "bpsync_last_success_age_seconds",
            "Seconds since the integration's stalest module last finished successfully.",
            ("integration",),
            {(k,): v for k, v in s.last_success_age_seconds.items()},
        )
        yield _gauge(
            "bpsync_quota_wait_seconds",
            "Seconds until Zoho's API quota lets the integration resume (absent when it does not wait).",
            ("integration",),
            {(k,): v for k, v in s.quota_wait_seconds.items()},
        )
        yield _gauge(
            "bpsync_integrations",
            "Integrations by state.",
            ("state",),
            {(k,): v for k, v in s.integrations_by_state.items()},
        )
        yield _gauge(
            "bpsync_integrations_by_badge",
            "Integrations by overall badge (disabled, waiting, in_progress, failed, active, not_synced).",
            ("badge",),
            {(k,): v for k, v in s.integrations_by_badge.items()},
        )


def _gauge(name: str, doc: str, labels: tuple[str, ...], values: dict) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=list(labels))
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def _counter(name: str, doc: str, labels: tuple[str, ...], values: dict) -> Metric:
    family = CounterMetricFamily(name, doc, labels=list(labels))
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def registry_for(engine: Callable[[], sa.Engine]) -> CollectorRegistry:
    # Our own registry: the process-global one would collect once per app created (tests create many).
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(engine))
    return registry


def metrics(request: Request) -> Response:
    # a plain function: Starlette runs it in its thread pool, so the database reads don't block the event loop
    registry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


ROUTES = [Route("/metrics", metrics)]
