"""/metrics: Prometheus text format, computed from the database at scrape time.

Computed per scrape (not counters incremented in this process) because the work happens in the workers: the
database is where every worker's results meet, so any web replica reports the whole deployment.

Zoho API calls are counted per module run and API (module_runs.projects_calls/books_calls), 429 answers in
module_runs.throttled_calls, and added to the integration's totals when the module run ends;
``bpsync_quota_wait_seconds`` is how long an integration still waits for Zoho's quota to reopen. Which labels
are kept, and why: README, "/metrics".

The text is written here rather than by prometheus_client's ``generate_latest``: building a Sample per value and
formatting it through the generic path cost 70 ms of a 1,000-tenant scrape (4,600 samples), several times the
database read. The output is the same bytes (tests/scheduler/web/test_metrics_exposition.py compares them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.utils import floatToGoString
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scheduler.status import MetricsSnapshot, metrics_snapshot
from scheduler.web.context import web_context


@dataclass(frozen=True)
class Family:
    name: str
    type: str  # "gauge" or "counter" (a counter's samples are named NAME_total)
    doc: str
    labels: tuple[str, ...]
    values: Callable[[MetricsSnapshot], Mapping[Any, float]]  # label values (a tuple, or a str for one label) -> value


FAMILIES = (
    Family(
        "bpsync_modules_in_progress",
        "gauge",
        "Modules with a queued or running module run (Sync in Progress); absent when idle.",
        ("integration", "module"),
        lambda s: s.modules_in_progress,
    ),
    Family(
        "bpsync_module_runs",
        "counter",
        "Module runs that ended, by module and status (all integrations).",
        ("module", "status"),
        lambda s: s.module_runs_by_status,
    ),
    Family(
        "bpsync_sync_runs",
        "counter",
        "Sync runs that ended, by outcome (all integrations).",
        ("status",),
        lambda s: s.sync_runs_by_status,
    ),
    Family(
        "bpsync_records",
        "counter",
        "Records handled by module runs that ended, by module and outcome (all integrations).",
        ("module", "outcome"),
        lambda s: s.records,
    ),
    Family(
        "bpsync_api_calls",
        "counter",
        "Zoho API calls made by module runs that ended, per integration and API.",
        ("integration", "api"),
        lambda s: s.api_calls,
    ),
    Family(
        "bpsync_api_throttled",
        "counter",
        "Zoho answers with HTTP 429 (rate limited) received by module runs that ended, per integration.",
        ("integration", "api"),
        lambda s: s.throttled_calls,
    ),
    Family(
        "bpsync_open_errors",
        "gauge",
        "Open sync errors (records failing or blocked) of the integration; absent without any.",
        ("integration",),
        lambda s: s.open_errors,
    ),
    Family(
        "bpsync_last_success_age_seconds",
        "gauge",
        "Seconds since the integration's stalest module last finished successfully.",
        ("integration",),
        lambda s: s.last_success_age_seconds,
    ),
    Family(
        "bpsync_quota_wait_seconds",
        "gauge",
        "Seconds until Zoho's API quota lets the integration resume (absent when it does not wait).",
        ("integration",),
        lambda s: s.quota_wait_seconds,
    ),
    Family("bpsync_integrations", "gauge", "Integrations by state.", ("state",), lambda s: s.integrations_by_state),
    Family(
        "bpsync_integrations_by_badge",
        "gauge",
        "Integrations by overall badge (disabled, waiting, in_progress, failed, active, not_synced).",
        ("badge",),
        lambda s: s.integrations_by_badge,
    ),
)


def _escape(value: str) -> str:
    # the text format's label value escapes (prometheus_client's openmetrics._escape)
    if "\\" not in value and "\n" not in value and '"' not in value:
        return value
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _number(value: float) -> str:
    # most values are counts: floatToGoString's repr(float(n)) is "n.0" below 10**6 (Go's exponents start there)
    if type(value) is int and 0 <= value < 1_000_000:
        return f"{value}.0"
    return floatToGoString(value)


def _lines(family: Family, snapshot: MetricsSnapshot) -> Iterator[str]:
    name = f"{family.name}_total" if family.type == "counter" else family.name
    yield f"# HELP {name} {family.doc}\n# TYPE {name} {family.type}\n"
    order = sorted(range(len(family.labels)), key=lambda i: family.labels[i])  # label names sorted, as Prometheus'
    heads = [(i, f'{family.labels[i]}="') for i in order]
    for key, value in sorted(_keyed(family, snapshot).items()):
        labels = '",'.join([head + _escape(key[i]) for i, head in heads])
        yield f'{name}{{{labels}"}} {_number(value)}\n'


def _keyed(family: Family, snapshot: MetricsSnapshot) -> Mapping[tuple[str, ...], float]:
    values = family.values(snapshot)
    return values if len(family.labels) > 1 else {(k,): v for k, v in values.items()}


def exposition(snapshot: MetricsSnapshot) -> bytes:
    """The snapshot in Prometheus' text format (what ``generate_latest`` writes for the same families)."""
    return "".join(line for family in FAMILIES for line in _lines(family, snapshot)).encode()


def metrics(request: Request) -> Response:
    # a plain function: Starlette runs it in its thread pool, so the database reads don't block the event loop
    snapshot = metrics_snapshot(web_context(request).engine)
    return Response(exposition(snapshot), media_type=CONTENT_TYPE_LATEST)


ROUTES = [Route("/metrics", metrics)]
