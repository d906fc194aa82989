"""One place for configuration: every setting is an environment variable with the ``BPSYNC_`` prefix.

The defaults are the embedded mode (a SQLite file in the per-user data folder, Celery's ``memory://`` broker,
no Redis), so ``bpsync demo`` runs on a fresh machine with no servers.
"""

from __future__ import annotations

import functools
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "BPSYNC_"
DATABASE_SCHEMES = {"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"}
BROKER_SCHEMES = {"memory", "redis", "rediss", "amqp", "pyamqp", "sentinel"}
REDIS_SCHEMES = {"redis", "rediss", "unix"}


class ConfigError(Exception):
    """A setting is invalid; the message is one line naming the variable and how to fix it."""


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir("bpsync", appauthor=False))


def _default_database_url() -> str:
    return f"sqlite:///{data_dir() / 'bpsync.sqlite'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    database_url: str = Field(default_factory=_default_database_url)
    broker_url: str = "memory://"
    result_backend: str | None = None
    # Redis for the shared OAuth token cache and the global Zoho rate limiter; None = in-process (embedded).
    redis_url: str | None = None
    secret_key: str | None = None
    web_bind: str = "127.0.0.1:8000"
    web_token: str | None = None
    # Where Zoho reaches `bpsync web` (e.g. https://sync.example.com), for the webhook URLs ops paste into Zoho.
    public_url: str | None = None
    log_level: str = "INFO"
    log_json: bool = False

    # Zoho endpoints: a data center picks the hosts; each can be overridden (that is how the sandbox is used).
    data_center: str = "US"
    projects_api_url: str | None = None
    books_api_url: str | None = None
    accounts_url: str | None = None
    http_timeout_seconds: float = 30.0

    # Zoho limits (reference: Books 100/min per org + daily cap by plan; Projects 100 per 2 min per user).
    books_requests_per_minute: int = 100
    books_window_seconds: float = 60.0
    books_daily_limit: int = 5000
    projects_requests_per_window: int = 100
    projects_window_seconds: float = 120.0
    # Off only for benchmarks that measure raw throughput against a sandbox with limits off.
    rate_limits_enabled: bool = True
    http_retry_attempts: int = 3
    http_retry_base_seconds: float = 0.5
    # Namespace of this deployment's keys in a shared Redis (token cache, limiter).
    redis_key_prefix: str = "bpsync"
    # A caller that would wait longer than this gets a "retry at T" signal instead of blocking a worker slot.
    max_inline_wait_seconds: float = 5.0

    # Scheduling
    default_sync_interval_hours: float = 24.0
    beat_tick_seconds: float = 30.0
    task_time_limit_seconds: int = 600
    visibility_timeout_seconds: int = 3600
    embedded_polling_interval: float = 0.01
    # Sync engine: a module task processes this many source pages, then continues itself as a new task.
    slice_pages: int = 5
    # A worker holds a module run for this long per slice (extended per page); a killed worker's lease lapses.
    module_lease_seconds: float = 120.0
    # The sweeper re-enqueues a current module that showed no sign of life for this long...
    stale_after_seconds: float = 300.0
    # ...at most this many times before the module is marked failed and the run moves on.
    max_module_attempts: int = 5
    # Instant path: new time logs of synced projects are polled this often (0 turns the poll off).
    instant_poll_minutes: float = 5.0
    # ...but polls of an integration use at most this share of its Projects quota (big portals poll less often).
    instant_poll_quota_share: float = Field(0.25, gt=0, le=1)
    # Daily runs re-read every month of a project's time logs this often; in between, only months that can have
    # changed (0: every run reads every month).
    timelog_deep_read_days: float = Field(7.0, ge=0)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in DATABASE_SCHEMES:
            raise ValueError(
                f"unknown database scheme {scheme!r}; use postgresql+psycopg://user@host/db or sqlite:///path"
            )
        return value

    @field_validator("broker_url")
    @classmethod
    def _check_broker_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in BROKER_SCHEMES or (parts.scheme != "memory" and not parts.netloc):
            raise ValueError(f"malformed broker URL {value!r}; use redis://host:6379/0 or memory://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in REDIS_SCHEMES:
            raise ValueError(f"malformed Redis URL {value!r}; use redis://host:6379/0")
        return value

    @field_validator("data_center")
    @classmethod
    def _check_data_center(cls, value: str) -> str:
        value = value.upper()
        if value not in {"US", "EU", "IN", "AU", "JP", "CA", "CN", "SA"}:
            raise ValueError(f"unknown data center {value!r}; use one of US, EU, IN, AU, JP, CA, CN, SA")
        return value

    @property
    def embedded(self) -> bool:
        return self.broker_url.startswith("memory://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Read the environment; raise ConfigError with one line naming the first bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{ENV_PREFIX}{field.upper()}: {message}") from None


@functools.cache
def get_settings() -> Settings:
    return load_settings()
