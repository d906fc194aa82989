"""``bpsync status`` reads with the driver alone only where every other command would read too."""

from __future__ import annotations

from scheduler.status.reads import Reader
from scheduler.status.source import status_source
from shared.db.engine import alembic_config
from shared.db.revisions import script_head


def test_the_scripts_head_read_from_their_lines_is_alembics_head():
    from alembic.script import ScriptDirectory

    assert script_head() == ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() is not None


def test_a_migrated_database_is_read_with_the_driver_alone(sqlite_migrated_url, pg_migrated_url):
    for url in (sqlite_migrated_url, pg_migrated_url):
        with status_source(url) as source:
            assert isinstance(source, Reader), url
            assert source.rows("SELECT count(*) FROM integrations") == [(0,)]
        try:
            source.rows("SELECT 1")
        except Exception:  # closed after the command: sqlite3.ProgrammingError, psycopg.OperationalError
            pass
        else:
            raise AssertionError(f"the connection to {url} was left open")


def test_the_status_command_leaves_the_cyclic_collector_as_it_found_it(sqlite_migrated_url):
    import gc

    from click.testing import CliRunner

    from scheduler.cli import main
    from shared.config import get_settings

    assert gc.isenabled()
    get_settings.cache_clear()  # the settings of this call's environment
    try:
        result = CliRunner().invoke(main, ["status", "--json"], env={"BPSYNC_DATABASE_URL": sqlite_migrated_url})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert '"integrations": []' in result.output
    assert gc.isenabled()
