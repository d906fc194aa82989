import pytest

from shared.config import ConfigError, load_settings


def test_defaults_are_the_embedded_mode(monkeypatch):
    for name in ("BPSYNC_DATABASE_URL", "BPSYNC_BROKER_URL", "BPSYNC_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.embedded and settings.is_sqlite
    assert settings.database_url.endswith("bpsync.sqlite")
    assert settings.redis_url is None


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("BPSYNC_DATABASE_URL", "mysql://root@localhost/x", "BPSYNC_DATABASE_URL: unknown database scheme 'mysql'"),
        ("BPSYNC_BROKER_URL", "redis://", "BPSYNC_BROKER_URL: malformed broker URL 'redis://'"),
        ("BPSYNC_BROKER_URL", "kafka://host:1", "BPSYNC_BROKER_URL: malformed broker URL"),
        ("BPSYNC_DATA_CENTER", "MARS", "BPSYNC_DATA_CENTER: unknown data center 'MARS'"),
        ("BPSYNC_BOOKS_REQUESTS_PER_MINUTE", "many", "BPSYNC_BOOKS_REQUESTS_PER_MINUTE:"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_postgres_and_redis_urls_are_accepted(monkeypatch):
    monkeypatch.setenv("BPSYNC_DATABASE_URL", "postgresql+psycopg://u@db:5432/bpsync")
    monkeypatch.setenv("BPSYNC_BROKER_URL", "redis://redis:6379/0")
    monkeypatch.setenv("BPSYNC_REDIS_URL", "redis://redis:6379/1")
    settings = load_settings()
    assert not settings.embedded and not settings.is_sqlite
