"""Migrating from Zoho's legacy Books - Projects integration (``bpsync migrate``): see run.py."""

from scheduler.migrate.record import MigrateRefused
from scheduler.migrate.report import Entry, Report
from scheduler.migrate.run import migrate

__all__ = ["Entry", "MigrateRefused", "Report", "migrate"]
