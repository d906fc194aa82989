"""/metrics writes Prometheus' text format itself (for speed): byte for byte what prometheus_client writes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from scheduler.status import MetricsSnapshot
from scheduler.web.metrics import FAMILIES, exposition

# integration names as admins type them: quotes, backslashes, line breaks and non-ASCII included
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
modules = st.sampled_from(("users", "clients", "projects", "tasks", "bugs", "timesheets"))
counts = st.integers(min_value=0, max_value=10**12)  # above 1e6 Go's float format switches to exponents
seconds = st.floats(min_value=0, max_value=1e9, allow_nan=False)


def pairs(first, second, values):
    return st.dictionaries(st.tuples(first, second), values, max_size=6)


snapshots = st.builds(
    MetricsSnapshot,
    modules_in_progress=pairs(names, modules, st.just(1)),
    module_runs_by_status=pairs(modules, st.sampled_from(("succeeded", "failed")), counts),
    sync_runs_by_status=st.dictionaries(st.sampled_from(("succeeded", "partial", "failed")), counts),
    records=pairs(modules, st.sampled_from(("fetched", "created")), counts),
    api_calls=pairs(names, st.sampled_from(("projects", "books")), counts),
    throttled_calls=pairs(names, st.just("any"), counts),
    open_errors=st.dictionaries(names, counts, max_size=6),
    last_success_age_seconds=st.dictionaries(names, seconds, max_size=6),
    quota_wait_seconds=st.dictionaries(names, seconds, max_size=6),
    integrations_by_state=st.dictionaries(st.sampled_from(("active", "disabled")), counts),
    integrations_by_badge=st.dictionaries(st.sampled_from(("failed", "active")), counts),
)


class Reference:
    """The families through prometheus_client's own classes (how /metrics was written before)."""

    def __init__(self, snapshot: MetricsSnapshot) -> None:
        self.snapshot = snapshot

    def collect(self):
        for f in FAMILIES:
            kind = CounterMetricFamily if f.type == "counter" else GaugeMetricFamily
            family = kind(f.name, f.doc, labels=list(f.labels))
            values = f.values(self.snapshot)
            keyed = values if len(f.labels) > 1 else {(k,): v for k, v in values.items()}
            for key, value in sorted(keyed.items()):
                family.add_metric(list(key), value)
            yield family


@settings(max_examples=150, deadline=None)
@given(snapshots)
def test_exposition_is_what_prometheus_client_writes(snapshot):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Reference(snapshot))
    assert exposition(snapshot) == generate_latest(registry)


def test_every_snapshot_field_is_exposed():
    fields = list(MetricsSnapshot.__dataclass_fields__)
    snapshot = MetricsSnapshot(**{name: {name: 1} for name in fields})  # each field a dict of its own
    assert sorted(next(iter(f.values(snapshot))) for f in FAMILIES) == sorted(fields)
