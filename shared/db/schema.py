"""The database schema (SQLAlchemy Core). Alembic migrations in ``shared/db/migrations`` create it.

The unique constraints are part of the product's correctness, not decoration:
- ``entity_links``: a Projects record links to one Books record and back, so a crash or a retry never creates
  a second Books customer/project/task for the same source;
- ``billing_claims``: one claim per billable item, so nothing is invoiced twice, whichever side invoices it;
- ``sync_errors``: one row per failing record, updated in place (attempts, last seen) instead of piling up.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _ts(name: str, **kw: Any) -> sa.Column[dt.datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), **kw)


integrations = sa.Table(
    "integrations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("books_organization_id", sa.String(40), nullable=False, unique=True),
    sa.Column("projects_portal_id", sa.String(40), nullable=False),
    sa.Column("data_center", sa.String(4), nullable=False, server_default="US"),
    # Fernet-encrypted JSON (client id/secret, refresh tokens); never logged, never returned by the API.
    sa.Column("credentials", sa.Text, nullable=False),
    sa.Column("contact_duplication", sa.String(10), nullable=False, server_default="merge"),
    sa.Column("timesheet_cutoff_date", sa.Date, nullable=True),
    sa.Column("general_timesheets", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("sync_interval_seconds", sa.Integer, nullable=False, server_default="86400"),
    sa.Column("state", sa.String(10), nullable=False, server_default="active"),
    # Zoho quota pauses all of the integration's work until this time (status: "Waiting for API quota").
    _ts("paused_until", nullable=True),
    sa.Column("paused_reason", sa.Text, nullable=True),
    # where the transactions poll left off: {kind: last_modified_time seen} (Books' own timestamps)
    sa.Column("finance_cursor", sa.JSON, nullable=True),
    # SHA-256 (hex) of the secret in the Zoho Projects and Books webhook URLs, never the token itself: a leaked
    # database or backup must not let anyone call the receivers. `bpsync webhook-url` shows the token once, when
    # it makes it; `--rotate` makes a new one.
    sa.Column("webhook_token_sha256", sa.String(64), nullable=True),
    _ts("connected_at", nullable=False),
    _ts("next_run_at", nullable=True),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    sa.CheckConstraint("contact_duplication in ('merge', 'clone')", name="contact_duplication"),
    sa.CheckConstraint("state in ('active', 'disabled')", name="state"),
)

sync_runs = sa.Table(
    "sync_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("trigger", sa.String(10), nullable=False),  # beat | manual | instant | webhook
    sa.Column("modules", sa.JSON, nullable=False),
    sa.Column("status", sa.String(10), nullable=False, server_default="queued"),
    _ts("requested_at", nullable=False),
    _ts("started_at", nullable=True),
    _ts("finished_at", nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_sync_runs_integration_status", "integration_id", "status"),
)

module_runs = sa.Table(
    "module_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sync_run_id", sa.ForeignKey("sync_runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("module", sa.String(30), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    # queued | running | succeeded | partial | failed | skipped | blocked
    sa.Column("status", sa.String(10), nullable=False, server_default="queued"),
    sa.Column("fetched", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("unchanged", sa.Integer, nullable=False, server_default="0"),
    sa.Column("skipped", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("blocked", sa.Integer, nullable=False, server_default="0"),
    sa.Column("api_calls", sa.Integer, nullable=False, server_default="0"),
    sa.Column("projects_calls", sa.Integer, nullable=False, server_default="0"),
    sa.Column("books_calls", sa.Integer, nullable=False, server_default="0"),
    sa.Column("throttled_calls", sa.Integer, nullable=False, server_default="0"),  # HTTP 429 answers
    sa.Column("checkpoint", sa.JSON, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text, nullable=True),
    # A pause: the beat's tick resumes the module at this time. wait_reason "quota" (Zoho's rate limit; status
    # shows "Waiting for API quota") or "retry" (backoff after a transient failure).
    _ts("waiting_until", nullable=True),
    sa.Column("wait_reason", sa.String(10), nullable=True),
    # A worker holds the module while lease_until is in the future; a killed worker's lease simply expires.
    _ts("lease_until", nullable=True),
    # Fencing token: every claim increments it and every write of the slice checks it, so a worker whose lease
    # lapsed (a long pause) can never overwrite the cursor, counts or lease of the worker that took over.
    sa.Column("lease_token", sa.Integer, nullable=False, server_default="0"),
    _ts("heartbeat_at", nullable=True),
    _ts("started_at", nullable=True),
    _ts("finished_at", nullable=True),
    sa.UniqueConstraint("sync_run_id", "module"),
    # a tenant's history, newest first, without walking every tenant's rows (optionally of one module)
    sa.Index("ix_module_runs_integration_module_id", "integration_id", "module", "id"),
    sa.Index("ix_module_runs_integration_id", "integration_id", "id"),
    # the few unfinished module runs (status, module_states upkeep, the sweeper), not the whole history
    sa.Index(
        "ix_module_runs_unfinished",
        "integration_id",
        "module",
        "sync_run_id",
        postgresql_where=sa.text("status IN ('queued', 'running')"),
        sqlite_where=sa.text("status IN ('queued', 'running')"),
    ),
)

# module_runs' counters that module_states sums over every ended module run, and its runs-per-status counts
MODULE_RUN_TOTALS = (
    "fetched",
    "created",
    "updated",
    "unchanged",
    "skipped",
    "failed",
    "blocked",
    "api_calls",
    "projects_calls",
    "books_calls",
    "throttled_calls",
)
RUN_COUNTS = ("runs_succeeded", "runs_partial", "runs_failed", "runs_skipped", "runs_blocked")

# One row per (integration, module): what status, /metrics and retention need, kept current in the same
# transactions that change module runs (shared/db/module_states.py), so those readers cost O(integrations),
# not O(history). The run pointers have no foreign key: retention keeps the rows they point at.
module_states = sa.Table(
    "module_states",
    metadata,
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("module", sa.String(30), primary_key=True),
    # the queued or running module run of the oldest unfinished sync run (NULL: nothing in progress)
    sa.Column("current_module_run_id", sa.Integer, nullable=True),
    # the last module run that ended (highest id), its status and end
    sa.Column("last_module_run_id", sa.Integer, nullable=True),
    sa.Column("last_status", sa.String(10), nullable=True),
    _ts("last_finished_at", nullable=True),
    # the module run that ended succeeded/partial last (latest finished_at)
    sa.Column("last_success_module_run_id", sa.Integer, nullable=True),
    _ts("last_success_at", nullable=True),
    # totals over every module run that ended (the /metrics counters; retention does not lower them)
    *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in (*RUN_COUNTS, *MODULE_RUN_TOTALS)),
)

# Open sync errors per (integration, module), kept by shared/db/sync_errors.py as errors open and resolve. Apart
# from module_states on purpose: a worker's page transaction writes errors before its module run row, the
# finishing transaction the other way round; one row for both would let the two deadlock.
open_error_counts = sa.Table(
    "open_error_counts",
    metadata,
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("module", sa.String(30), primary_key=True),
    sa.Column("open_errors", sa.Integer, nullable=False, server_default="0"),
)

# Sync runs that ended, per integration and outcome (the /metrics counter; retention does not lower it).
sync_run_totals = sa.Table(
    "sync_run_totals",
    metadata,
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("status", sa.String(10), primary_key=True),
    sa.Column("runs", sa.BigInteger, nullable=False, server_default="0"),
)

entity_links = sa.Table(
    "entity_links",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("entity_type", sa.String(30), nullable=False),
    sa.Column("projects_id", sa.String(40), nullable=False),
    # NULL while pending: the row is written BEFORE the Books POST (Zoho has no idempotency key), so a retry
    # finds it and looks the record up instead of creating it again.
    sa.Column("books_id", sa.String(40), nullable=True),
    sa.Column("state", sa.String(10), nullable=False, server_default="linked"),  # pending | linked
    sa.Column("fingerprint", sa.String(64), nullable=True),
    sa.Column("parent_projects_id", sa.String(40), nullable=True),
    sa.Column("attributes", sa.JSON, nullable=True),
    _ts("last_synced_at", nullable=True),
    _ts("created_at", nullable=False),
    # The module run that last wrote this link (and counted the write in the same transaction): a page re-read
    # after a crash does not count the record twice. No foreign key: history retention must not touch links.
    sa.Column("module_run_id", sa.Integer, nullable=True),
    sa.UniqueConstraint("integration_id", "entity_type", "projects_id"),
    # ...and a Books record is the target of one Projects record, except customers: merging same-name clients
    # (the contact-duplication preference) makes several Projects clients one Books customer on purpose.
    sa.Index(
        "uq_entity_links_books_side",
        "integration_id",
        "entity_type",
        "books_id",
        unique=True,
        postgresql_where=sa.text("entity_type <> 'client'"),
        sqlite_where=sa.text("entity_type <> 'client'"),
    ),
    # ...and a Books task is the target of one task or bug: the two modules run at once (migration 0008)
    sa.Index(
        "uq_entity_links_books_task",
        "integration_id",
        "books_id",
        unique=True,
        postgresql_where=sa.text("entity_type IN ('task', 'bug')"),
        sqlite_where=sa.text("entity_type IN ('task', 'bug')"),
    ),
    # a project's logs are read by their parents (links.links_under): with this index the plan does not depend
    # on fresh statistics (benchmarks/link_plans.py; migration 0007)
    sa.Index("ix_entity_links_parent", "integration_id", "entity_type", "parent_projects_id"),
)

sync_errors = sa.Table(
    "sync_errors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("module", sa.String(30), nullable=False),
    sa.Column("entity_type", sa.String(30), nullable=False),
    sa.Column("source_id", sa.String(40), nullable=False),
    sa.Column("source_name", sa.String(500), nullable=True),
    sa.Column("reason_code", sa.String(60), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("hint", sa.Text, nullable=True),
    sa.Column("blocked_by", sa.ForeignKey("sync_errors.id", ondelete="SET NULL"), nullable=True),
    sa.Column("module_run_id", sa.ForeignKey("module_runs.id", ondelete="SET NULL"), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
    _ts("first_seen_at", nullable=False),
    _ts("last_seen_at", nullable=False),
    _ts("resolved_at", nullable=True),
    sa.UniqueConstraint("integration_id", "entity_type", "source_id"),
    sa.Index("ix_sync_errors_open", "integration_id", "module", "resolved_at"),
    # history retention deletes module runs: their errors' module_run_id is set NULL through this index
    sa.Index("ix_sync_errors_module_run", "module_run_id"),
)

billing_claims = sa.Table(
    "billing_claims",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("item_type", sa.String(20), nullable=False),  # time_entry | task | milestone | tasklist | expense
    sa.Column("item_id", sa.String(40), nullable=False),
    sa.Column("side", sa.String(10), nullable=False),  # books | projects | cutoff (before the cutoff date)
    sa.Column("invoice_reference", sa.String(100), nullable=True),
    sa.Column("books_invoice_id", sa.String(40), nullable=True),
    sa.Column("state", sa.String(10), nullable=False, server_default="claimed"),  # pending | claimed | billed
    _ts("claimed_at", nullable=False),
    # the project-side request whose invoice holds the claim (pending until Books confirms the invoice)
    sa.Column("request_id", sa.ForeignKey("finance_requests.id", ondelete="CASCADE"), nullable=True),
    sa.UniqueConstraint("integration_id", "item_type", "item_id"),
    sa.Index("ix_billing_claims_invoice", "integration_id", "books_invoice_id"),
)

# Transactions asked for on the project side (the Finance view, API or CLI): written here with a deterministic
# Books reference_number BEFORE the Books POST, so a crash between the POST and the commit is reconciled by
# looking the reference up, never by creating a second invoice. A blank customer waits as a draft.
finance_requests = sa.Table(
    "finance_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # invoice | quote | expense | recurring_invoice
    sa.Column("projects_project_id", sa.String(40), nullable=False),
    sa.Column("books_project_id", sa.String(40), nullable=False),
    sa.Column("customer_id", sa.String(40), nullable=True),  # NULL: a draft waiting for its customer
    sa.Column(
        "scope", sa.String(10), nullable=False, server_default="project"
    ),  # project | task | milestone | tasklist
    sa.Column("scope_id", sa.String(40), nullable=True),
    sa.Column("payload", sa.JSON, nullable=True),  # what the user asked for (dates, amounts, notes)
    sa.Column("reference", sa.String(60), nullable=False),  # Books reference_number
    # draft | queued | sending | confirmed | refused | failed
    sa.Column("state", sa.String(10), nullable=False, server_default="queued"),
    sa.Column("books_id", sa.String(40), nullable=True),
    sa.Column("number", sa.String(100), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    _ts("lease_until", nullable=True),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    sa.UniqueConstraint("integration_id", "reference"),
    sa.Index("ix_finance_requests_state", "state", "updated_at"),
)

transactions = sa.Table(
    "transactions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # invoice | quote | expense | recurring_invoice
    sa.Column("books_id", sa.String(40), nullable=False),
    sa.Column("projects_project_id", sa.String(40), nullable=True),
    sa.Column("books_project_id", sa.String(40), nullable=True),
    sa.Column("number", sa.String(100), nullable=True),
    sa.Column("customer_id", sa.String(40), nullable=True),
    sa.Column("status", sa.String(30), nullable=True),
    sa.Column("total", sa.Numeric(18, 2), nullable=True),
    sa.Column("currency_code", sa.String(8), nullable=True),
    sa.Column("date", sa.Date, nullable=True),
    sa.Column("origin", sa.String(10), nullable=False),  # books | projects
    sa.Column("payload", sa.JSON, nullable=True),
    _ts("last_modified_at", nullable=True),
    _ts("created_at", nullable=False),
    sa.Column("balance", sa.Numeric(18, 2), nullable=True),
    sa.Column("customer_name", sa.String(200), nullable=True),
    sa.Column("reference_number", sa.String(100), nullable=True),
    sa.Column("recurring_invoice_id", sa.String(40), nullable=True),  # the profile that generated an invoice
    _ts("deleted_at", nullable=True),  # deleted in Books: kept so its claims' release is explained
    sa.UniqueConstraint("integration_id", "kind", "books_id"),
    sa.Index("ix_transactions_project", "integration_id", "projects_project_id"),
)

# What the timesheets module learned about each project's time-log windows, so a daily run re-reads only the
# months that can have changed (worker/modules/timelog_windows.py): the first month holding a log of the
# component at the last deep read (NULL: none), and when that deep (every month) read was.
timelog_scans = sa.Table(
    "timelog_scans",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("project_id", sa.String(40), nullable=False),  # Zoho Projects id
    sa.Column("component", sa.String(10), nullable=False),  # task | bug | general
    sa.Column("first_month", sa.Date, nullable=True),
    _ts("deep_read_at", nullable=False),
    sa.UniqueConstraint("integration_id", "project_id", "component"),
)

# Webhook calls from Zoho Projects, kept until a timesheets run has looked at their projects: the receiver
# answers at once and a crash between the call and the run loses nothing.
webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("integration_id", sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("event", sa.String(60), nullable=False),
    sa.Column("project_id", sa.String(40), nullable=False),
    sa.Column("log_id", sa.String(40), nullable=True),
    sa.Column("payload", sa.JSON, nullable=True),
    _ts("received_at", nullable=False),
    _ts("handled_at", nullable=True),
    sa.Column("module_run_id", sa.ForeignKey("module_runs.id", ondelete="SET NULL"), nullable=True),
    sa.Index("ix_webhook_events_pending", "integration_id", "handled_at"),
    sa.Index("ix_webhook_events_module_run", "module_run_id"),
)

# `bpsync check`: a three-step chain through broker and workers writes one row per step, proving the
# database <-> broker <-> worker round trip end to end.
worker_checks = sa.Table(
    "worker_checks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("check_id", sa.String(40), nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("hostname", sa.String(200), nullable=True),
    _ts("at", nullable=False),
    sa.UniqueConstraint("check_id", "step"),
)
