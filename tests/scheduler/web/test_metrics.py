"""/metrics parses as Prometheus text and its numbers are the database's."""

from __future__ import annotations

import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from shared.db.schema import module_runs, sync_errors
from shared.modules import modules_for_refresh


def scrape(client) -> dict[str, dict[tuple, float]]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_metrics_report_the_database(client, synced):
    metrics = scrape(client)
    with synced.engine.connect() as conn:
        created = dict(conn.execute(sa.select(module_runs.c.module, module_runs.c.created)).all())
        calls = {r.module: r for r in conn.execute(sa.select(module_runs))}
        errors = dict(
            conn.execute(
                sa.select(sync_errors.c.module, sa.func.count())
                .where(sync_errors.c.resolved_at.is_(None))
                .group_by(sync_errors.c.module)
            ).all()
        )
    records = metrics["bpsync_records_total"]
    for module, n in created.items():
        assert records[(("module", module), ("outcome", "created"))] == n
        assert calls[module].projects_calls + calls[module].books_calls == calls[module].api_calls > 0
    api_calls = metrics["bpsync_api_calls_total"]
    for api in ("projects", "books"):  # per integration: Zoho's quotas are per organization and portal
        total = sum(getattr(r, f"{api}_calls") for r in calls.values())
        assert api_calls[(("api", api), ("integration", "acme"))] == total
    assert metrics["bpsync_open_errors"] == {(("integration", "acme"),): sum(errors.values())}
    assert metrics["bpsync_last_success_age_seconds"][(("integration", "acme"),)] >= 0
    assert metrics["bpsync_sync_runs_total"] == {(("status", "partial"),): 1}
    assert metrics["bpsync_module_runs_total"] == {(("module", m), ("status", calls[m].status)): 1 for m in calls}
    assert metrics["bpsync_integrations"] == {(("state", "active"),): 1}
    assert metrics["bpsync_integrations_by_badge"] == {(("badge", "active"),): 1}
    assert "bpsync_modules_in_progress" not in metrics  # nothing runs

    client.post("/api/integrations/1/refresh", json={"module": "tasks"})  # queued: no worker consumes it
    in_progress = scrape(client)
    assert {dict(k)["module"] for k in in_progress["bpsync_modules_in_progress"]} == set(modules_for_refresh("tasks"))
    assert in_progress["bpsync_integrations_by_badge"] == {(("badge", "in_progress"),): 1}
