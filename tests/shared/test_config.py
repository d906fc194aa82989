import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
KEY = "kRSjdTuoQ36b6JeNS1EPK5sIt9Ew3qwDvhCEtvCtUGs="

# Every setting with values that must not start a process. A new setting without an entry fails
# test_every_setting_has_bad_values: give it a range or a shape check and list what it refuses.
BAD_VALUES: dict[str, list[str]] = {
    "database_url": ["mysql://root@localhost/x", "nonsense"],
    "broker_url": ["redis://", "kafka://host:1", "nonsense"],
    "result_backend": ["nonsense", "redis:host"],
    "redis_url": ["http://redis:6379", "nonsense"],
    "secret_key": ["notakey", f"{KEY},notakey"],
    "web_bind": ["nonsense", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "host:port", ":8000"],
    "web_token": ["two words", "tab\there", "naïve"],
    "public_url": ["sync.example.com", "ftp://sync.example.com"],
    "oauth_client_id": ["1000.ABC DEF", '"1000.ABC"'],
    "oauth_client_secret": ["two words", "abc;def"],
    "oauth_redirect_uri": [
        "sync.example.com/connect/callback",
        "https://sync.example.com/callback",
        "https://s.example/connect/callback?x=1",
    ],
    "log_level": ["LOUD", "verbose"],
    "log_json": ["maybe"],
    "data_center": ["MARS"],
    "projects_api_url": ["localhost:8765", "ftp://host"],
    "books_api_url": ["/books/v3", "ftp://host"],
    "accounts_url": ["accounts.zoho.com"],
    "http_timeout_seconds": ["-1", "0", "nan", "soon"],
    "books_requests_per_minute": ["0", "-5", "many", "1.5"],
    "books_window_seconds": ["0", "-60", "inf"],
    "books_daily_limit": ["0", "-1"],
    "projects_requests_per_window": ["0", "-1"],
    "projects_window_seconds": ["0", "-120"],
    "rate_limits_enabled": ["sometimes"],
    "http_retry_attempts": ["0", "-1"],
    "http_retry_base_seconds": ["-0.5"],
    "redis_key_prefix": ["", "has space", ":leading"],
    "max_inline_wait_seconds": ["-1"],
    "default_sync_interval_hours": ["0", "-24", "9000"],
    "beat_tick_seconds": ["0", "-5", "0.001", "inf"],
    "task_time_limit_seconds": ["0", "-1", "30", "4000"],
    "visibility_timeout_seconds": ["0", "600", "30"],
    "embedded_polling_interval": ["0", "-1"],
    "slice_pages": ["-3", "0"],
    "slice_seconds": ["0", "-1", "3601", "nan"],
    "module_lease_seconds": ["0", "-1"],
    "stale_after_seconds": ["0", "-1"],
    "max_module_attempts": ["0", "-1"],
    "retry_backoff_seconds": ["0", "-1"],
    "instant_poll_minutes": ["-5"],
    "instant_poll_quota_share": ["0", "1.5"],
    "transactions_poll_seconds": ["-1", "90000", "nan"],
    "timelog_deep_read_days": ["-1"],
    "history_retention_days": ["-1", "40000", "nan"],
    "history_idle_run_hours": ["0", "-1", "nan"],
    "history_keep_runs": ["0", "-1", "1.5"],
}
# Values that are never repeated in an error line.
SECRETS = {"secret_key": ["notakey"], "web_token": ["two words"], "oauth_client_secret": ["two words"]}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("BPSYNC_"):
            monkeypatch.delenv(name)


def test_every_setting_has_bad_values():
    assert set(BAD_VALUES) == set(Settings.model_fields)


@pytest.mark.parametrize(
    ("field", "value"), [(field, value) for field, values in BAD_VALUES.items() for value in values]
)
def test_a_bad_setting_is_one_line_naming_the_variable_and_a_valid_example(monkeypatch, field, value):
    variable = f"BPSYNC_{field.upper()}"
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"{variable}: ")
    assert "\n" not in message
    reason, _, example = message.partition(f"; e.g. {variable}=")
    assert example, message
    if value in SECRETS.get(field, []):
        assert value not in reason
    if not example.startswith("$("):  # a command that prints one (bpsync keygen)
        monkeypatch.setenv(variable, example)
        assert load_settings()  # the example given is itself valid


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("BPSYNC_DATABASE_URL", "mysql://root@localhost/x", "BPSYNC_DATABASE_URL: unknown database scheme 'mysql'"),
        ("BPSYNC_BROKER_URL", "redis://", "BPSYNC_BROKER_URL: malformed broker URL 'redis://'"),
        ("BPSYNC_DATA_CENTER", "MARS", "BPSYNC_DATA_CENTER: unknown data center 'MARS'"),
        ("BPSYNC_BOOKS_REQUESTS_PER_MINUTE", "many", "BPSYNC_BOOKS_REQUESTS_PER_MINUTE: input should be a valid int"),
        ("BPSYNC_BEAT_TICK_SECONDS", "0", "BPSYNC_BEAT_TICK_SECONDS: input should be greater than or equal to 1"),
        ("BPSYNC_LOG_LEVEL", "LOUD", "BPSYNC_LOG_LEVEL: unknown log level 'LOUD' (one of DEBUG, INFO, WARNING,"),
        ("BPSYNC_SECRET_KEY", f"{KEY},notakey", "BPSYNC_SECRET_KEY: key 2 of 2 is not a Fernet key"),
    ],
)
def test_the_line_says_what_is_wrong(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match="^" + expected.replace("(", r"\(")):
        load_settings()


def test_a_password_in_a_url_is_not_repeated(monkeypatch):
    monkeypatch.setenv("BPSYNC_BROKER_URL", "kafka://user:hunter2@host:1")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value) and "kafka://user:***@host:1" in str(caught.value)


def test_defaults_are_the_embedded_mode():
    settings = load_settings()
    assert settings.embedded and settings.is_sqlite
    assert settings.database_url.endswith("bpsync.sqlite")
    assert settings.redis_url is None and settings.shared_redis_url is None


def test_valid_values_are_normalized(monkeypatch):
    monkeypatch.setenv("BPSYNC_LOG_LEVEL", "debug")
    monkeypatch.setenv("BPSYNC_WEB_BIND", "[::1]:8080")
    monkeypatch.setenv("BPSYNC_SECRET_KEY", f"{KEY}, {KEY}")  # rotation: several keys, comma-separated
    monkeypatch.setenv("BPSYNC_PUBLIC_URL", "")  # compose's ${BPSYNC_PUBLIC_URL:-}: not set
    monkeypatch.setenv("BPSYNC_INSTANT_POLL_MINUTES", "0")  # the poll is off
    settings = load_settings()
    assert settings.log_level == "DEBUG"
    assert (settings.web_host, settings.web_port) == ("::1", 8080)
    assert settings.public_url is None


def test_postgres_and_redis_urls_are_accepted(monkeypatch):
    monkeypatch.setenv("BPSYNC_DATABASE_URL", "postgresql+psycopg://u@db:5432/bpsync")
    monkeypatch.setenv("BPSYNC_BROKER_URL", "redis://redis:6379/0")
    monkeypatch.setenv("BPSYNC_REDIS_URL", "redis://redis:6379/1")
    settings = load_settings()
    assert not settings.embedded and not settings.is_sqlite
    assert settings.shared_redis_url == "redis://redis:6379/1"


def test_a_redis_broker_shares_its_redis_with_the_limiter_unless_told_otherwise():
    settings = load_settings(broker_url="rediss://:pw@redis:6380/0")
    assert settings.redis_url is None
    assert settings.shared_redis_url == "rediss://:pw@redis:6380/0"


def test_an_amqp_broker_needs_a_shared_redis_for_the_limiter():
    with pytest.raises(ConfigError, match=r"^BPSYNC_REDIS_URL: required with the amqp:// broker") as caught:
        load_settings(broker_url="amqp://guest@rabbit:5672//")
    assert "BPSYNC_RATE_LIMITS_ENABLED=false" in str(caught.value)
    with_redis = load_settings(broker_url="amqp://guest@rabbit:5672//", redis_url="redis://redis:6379/1")
    assert with_redis.shared_redis_url == "redis://redis:6379/1"
    opted_out = load_settings(broker_url="amqp://guest@rabbit:5672//", rate_limits_enabled=False)
    assert opted_out.shared_redis_url is None


def test_the_compose_environment_is_a_valid_configuration(monkeypatch):
    import re

    import yaml

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        environment = {k: str(v) for k, v in (service.get("environment") or {}).items() if k.startswith("BPSYNC_")}
        for variable, value in environment.items():
            # ${X:?message} is supplied by the admin (a real key here); ${X:-default} is its default
            value = re.sub(r"\$\{BPSYNC_SECRET_KEY:\?[^}]*\}", KEY, value)
            value = re.sub(r"\$\{BPSYNC_WEB_TOKEN:\?[^}]*\}", "9f2c4e1a7b3d5f6e8a0c2b4d6f8e1a3c", value)
            monkeypatch.setenv(variable, re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value))
        assert load_settings(), name


def test_the_environment_is_read_as_pydantic_settings_read_it(monkeypatch):
    """Any case of the name, arguments over variables, unknown BPSYNC_ names and unprefixed names ignored."""
    monkeypatch.setenv("bpsync_slice_pages", "7")
    monkeypatch.setenv("BPSYNC_BEAT_TICK_SECONDS", "45")
    monkeypatch.setenv("BPSYNC_NO_SUCH_SETTING", "x")
    monkeypatch.setenv("MAX_MODULE_ATTEMPTS", "9")
    conf = load_settings(beat_tick_seconds=60)
    assert (conf.slice_pages, conf.beat_tick_seconds, conf.max_module_attempts) == (7, 60.0, 5)
    assert conf.model_fields_set == {"slice_pages", "beat_tick_seconds"}  # what the admin set, not the defaults


def test_a_bad_default_is_refused_too(monkeypatch):
    # defaults go through the same checks (pydantic-settings' validate_default): no field escapes its validator
    monkeypatch.setattr(Settings.model_fields["web_bind"], "default", "no port")
    Settings.model_rebuild(force=True)
    try:
        with pytest.raises(ConfigError, match=r"^BPSYNC_WEB_BIND: "):
            load_settings()
    finally:
        monkeypatch.undo()
        Settings.model_rebuild(force=True)


# Values as admins write them, and as they should not: each setting of each type takes each, in the tests below.
ODD_VALUES = [
    "5",
    " 5 ",
    "5.0",
    "5.5",
    "1_000",
    "+5",
    "-0",
    "0",
    "-1",
    "0x10",
    "1e3",
    ".5",
    "5.",
    "",
    "  ",
    "inf",
    "-inf",
    "nan",
    "NaN",
    "٣",
    "99999999999999999999999",
    "true",
    "TRUE",
    "Yes",
    "on",
    "t",
    "n",
    "off",
    " true",
    "2",
    "maybe",
    "redis://redis:6379/0",
    "INFO",
    "debug",
    "x",
    "127.0.0.1:80",
    "https://s.example/connect/callback",
    5,
    5.5,
    True,
    None,
]


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_plain_checks_read_every_value_as_the_pydantic_model_of_the_declarations(field):
    """What Settings takes without pydantic it takes as the pydantic model of the same declarations would; what it
    refuses is that model's error (one source of the settings and their messages)."""
    from pydantic import ValidationError

    from shared.config import _pydantic_model, config_error

    model = _pydantic_model()
    for value in ODD_VALUES:
        try:
            expected: object = model(**{field: value}).model_dump()
        except ValidationError as exc:
            expected = str(config_error(exc.errors()[0]))
        try:
            got: object = Settings(**{field: value}).model_dump()
        except ConfigError as exc:
            got = str(exc)
        assert got == expected, (field, value)


def test_loading_the_settings_loads_no_pydantic_or_cryptography_unless_a_value_needs_it():
    environment = {
        "BPSYNC_DATABASE_URL": "postgresql+psycopg://u@db:5432/bpsync",
        "BPSYNC_BROKER_URL": "redis://redis:6379/0",
        "BPSYNC_SECRET_KEY": f"{KEY},{KEY}",
        "BPSYNC_WEB_TOKEN": "9f2c4e1a7b3d5f6e8a0c2b4d6f8e1a3c",
        "BPSYNC_BEAT_TICK_SECONDS": "15",
        "BPSYNC_LOG_JSON": "true",
        "BPSYNC_HTTP_TIMEOUT_SECONDS": "2.5",
    }
    probe = (
        "import sys; from shared.config import load_settings; conf = load_settings(); loaded = "
        "sorted(m for m in ('pydantic', 'cryptography') if m in sys.modules); "
        "print(conf.beat_tick_seconds, conf.log_json, loaded)"
    )

    def run(**extra: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")} | environment | extra
        done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert run() == "15.0 True []"
    assert run(BPSYNC_BEAT_TICK_SECONDS=" 15 ") == "15.0 True ['pydantic']"  # pydantic's reading, as before


@pytest.mark.parametrize("key", [KEY, KEY[:-1], KEY + "A", "notakey", "", "é" * 44, KEY.replace("-", "+"), "AAAA" * 11])
def test_a_secret_key_is_a_fernet_key_exactly_when_fernet_takes_it(key):
    from cryptography.fernet import Fernet

    from shared.config import is_fernet_key

    try:
        Fernet(key)
        takes = True
    except ValueError:
        takes = False
    assert is_fernet_key(key) is takes


# --------------------------------------------------------------------------------------------- processes
PROCESSES = {
    "celery worker": [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "--pool", "solo"],
    "celery beat": [sys.executable, "-m", "celery", "-A", "worker.app", "beat"],
    "bpsync web": [sys.executable, "-m", "scheduler.cli", "web"],
    "bpsync worker": [sys.executable, "-m", "scheduler.cli", "worker"],
    "python -m worker": [sys.executable, "-m", "worker", "--pool", "solo"],
    "bpsync status": [sys.executable, "-m", "scheduler.cli", "status"],
}


@pytest.mark.parametrize("process", sorted(PROCESSES))
@pytest.mark.parametrize(
    ("variable", "value"),
    [("BPSYNC_BEAT_TICK_SECONDS", "0"), ("BPSYNC_TASK_TIME_LIMIT_SECONDS", "4000")],
)
def test_every_process_refuses_a_bad_setting_with_one_line(process, variable, value, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")}
    env |= {variable: value, "BPSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'never.sqlite'}"}
    out = subprocess.run(PROCESSES[process], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith(f"error: {variable}: "), out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
