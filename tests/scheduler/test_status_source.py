"""``bpsync status`` reads with the driver alone only where every other command would read too."""

from __future__ import annotations

from scheduler.status.reads import Reader
from scheduler.status.source import script_head, status_source
from shared.db.engine import head_revision


def test_the_scripts_head_is_the_engines_head_revision():
    assert script_head() == head_revision() is not None


def test_a_migrated_database_is_read_with_the_driver_alone(sqlite_migrated_url, pg_migrated_url):
    for url in (sqlite_migrated_url, pg_migrated_url):
        source = status_source(url)
        assert isinstance(source, Reader), url
        assert source.rows("SELECT count(*) FROM integrations") == [(0,)]
        source.connection.close()
