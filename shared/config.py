"""One place for configuration: every setting is an environment variable with the ``BPSYNC_`` prefix.

The defaults are the embedded mode (a SQLite file in the per-user data folder, Celery's ``memory://`` broker,
no Redis), so ``bpsync demo`` runs on a fresh machine with no servers.

Every setting has a range or a shape check, run when a process starts (worker, beat, web, every command): a bad
value is one line naming the variable, what is wrong and a valid example (``load_settings``).

``Settings`` below is the one declaration of the settings: type, default, range, example and check. The variables
are read as pydantic-settings would (any case of the name, arguments over the environment, unknown names ignored,
defaults validated too) and validated as a pydantic model of those declarations would, with what that model
answers: a value plain Python can vouch for (a number written plainly and in range, a boolean word, a string its
check passes) is taken as it is; anything else (a value to refuse, "1_000", " 5 ") goes to that model, built from
the declarations on first need, which gives pydantic's coercion and pydantic's error. So most commands load no
pydantic: its import and the model's build were 60-100 ms of every ``bpsync`` start (issue 19).
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from pydantic import BaseModel

ENV_PREFIX = "BPSYNC_"
DATABASE_SCHEMES = {"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"}
BROKER_SCHEMES = {"memory", "redis", "rediss", "amqp", "pyamqp", "sentinel"}
REDIS_SCHEMES = {"redis", "rediss", "unix"}
DATA_CENTERS = ("US", "EU", "IN", "AU", "JP", "CA", "CN", "SA")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Values never repeated in an error line (URLs may carry a password).
SECRET_FIELDS = {
    "secret_key",
    "web_token",
    "database_url",
    "broker_url",
    "result_backend",
    "redis_url",
    "oauth_client_secret",
}
# The web app's Connect flow answers Zoho's redirect at this path (scheduler/web/connect.py).
CONNECT_CALLBACK_PATH = "/connect/callback"
# patterns as text: re compiles one when it is first used (and keeps it), not every command at its start
# (~1 ms each: bpsync status needs none of them; issue 19)
_WEB_BIND = r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):(?P<port>\d{1,5})$"
_KEY_PREFIX = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"


class ConfigError(Exception):
    """A setting is invalid; the message is one line naming the variable and how to fix it."""


class SettingProblem(ValueError):
    """A check involving several settings, blamed on one of them (its error line names that variable)."""

    def __init__(self, field: str, reason: str, example: str | None = None) -> None:
        super().__init__(reason)
        self.field = field
        self.example = example  # a value valid with the others as they are (default: the field's own example)


def data_dir() -> Path:
    import platformdirs  # only without BPSYNC_DATABASE_URL or a secret key: embedded mode

    return Path(platformdirs.user_data_dir("bpsync", appauthor=False))


def _default_database_url() -> str:
    return f"sqlite:///{data_dir() / 'bpsync.sqlite'}"


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("not an http(s) URL with a host")
    return value


def _environment(fields: Mapping[str, Any]) -> dict[str, str]:
    """The ``BPSYNC_*`` variables of ``fields``, by field name (the variable's name in any case)."""
    prefix = ENV_PREFIX.lower()
    found: dict[str, str] = {}
    for variable, value in os.environ.items():
        name = variable.lower().removeprefix(prefix)
        if name in fields and len(name) < len(variable):
            found[name] = value
    return found


# ----------------------------------------------------------------------------------------------- the checks
# Each takes a value of its setting's type (None for an unset optional one) and returns it, or raises ValueError
# with the reason an admin reads.
def _check_database_url(value: str) -> str:
    scheme = urlsplit(value).scheme
    if scheme not in DATABASE_SCHEMES:
        raise ValueError(f"unknown database scheme {scheme!r} (postgresql+psycopg or sqlite)")
    return value


def _check_broker_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in BROKER_SCHEMES or (parts.scheme != "memory" and not parts.netloc):
        raise ValueError(f"malformed broker URL {_without_password(value)!r} (redis, rediss, amqp or memory)")
    return value


def _check_result_backend(value: str | None) -> str | None:
    if value is not None and not re.match(r"^[a-z][a-z0-9+.-]*://", value):
        raise ValueError("not a Celery result backend URL (scheme://...)")
    return value


def _check_redis_url(value: str | None) -> str | None:
    if value is not None and urlsplit(value).scheme not in REDIS_SCHEMES:
        raise ValueError(f"malformed Redis URL {_without_password(value)!r}")
    return value


def _check_secret_key(value: str | None) -> str | None:
    if value is None:
        return None
    keys = [k.strip() for k in value.split(",") if k.strip()]
    for position, key in enumerate(keys, start=1):
        if not is_fernet_key(key):
            which = f"key {position} of {len(keys)}" if len(keys) > 1 else "the key"
            raise ValueError(f"{which} is not a Fernet key (32 url-safe base64 bytes)")
    return value


def is_fernet_key(key: str) -> bool:
    """What ``cryptography.fernet.Fernet(key)`` accepts (its own check, without importing cryptography)."""
    import base64
    import binascii

    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except (binascii.Error, ValueError):
        return False


def _check_web_bind(value: str) -> str:
    match = re.match(_WEB_BIND, value)
    if not match or not 1 <= int(match["port"]) <= 65535:
        raise ValueError(f"{value!r} is not host:port (port 1-65535)")
    return value


def _check_web_token(value: str | None) -> str | None:
    # it travels in an Authorization header, a cookie and a query parameter
    if value is not None and not re.fullmatch(r"[!-~]+", value):
        raise ValueError("the token must be printable ASCII without spaces")
    return value


def _check_oauth_client(value: str | None) -> str | None:
    # copied from Zoho's API console: a stray space or a quote pasted with it would only fail at Zoho
    if value is not None and not re.fullmatch(r"[A-Za-z0-9._-]{1,200}", value):
        raise ValueError("not as Zoho's API console shows it (letters, digits, '.', '_', '-'; no spaces or quotes)")
    return value


def _check_oauth_redirect_uri(value: str | None) -> str | None:
    if value is None:
        return None
    _http_url(value)
    parts = urlsplit(value)
    if not parts.path.rstrip("/").endswith(CONNECT_CALLBACK_PATH) or parts.query or parts.fragment:
        raise ValueError(f"must be the web app's address followed by {CONNECT_CALLBACK_PATH}, with no query")
    return value


def _check_http_url(value: str | None) -> str | None:
    return None if value is None else _http_url(value)


def _check_log_level(value: str) -> str:
    if value.upper() not in LOG_LEVELS:
        raise ValueError(f"unknown log level {value!r} (one of {', '.join(LOG_LEVELS)})")
    return value.upper()


def _check_data_center(value: str) -> str:
    value = value.upper()
    if value not in DATA_CENTERS:
        raise ValueError(f"unknown data center {value!r} (one of {', '.join(DATA_CENTERS)})")
    return value


def _check_redis_key_prefix(value: str) -> str:
    if not re.match(_KEY_PREFIX, value):
        raise ValueError(f"{value!r} is not a key prefix (letters, digits, _ . : -)")
    return value


def _check_together(conf: Settings) -> None:
    """The checks of several settings at once; ``conf`` has every field (validated one by one) and fields_set."""
    limit, timeout = conf.task_time_limit_seconds, conf.visibility_timeout_seconds
    if limit >= timeout:
        # Redis redelivers a task not acked within the visibility timeout: a second worker would start it.
        # Blame the one the admin changed.
        why = "or a task still running is started by a second worker"
        if "visibility_timeout_seconds" in conf.model_fields_set - {"task_time_limit_seconds"}:
            raise SettingProblem(
                "visibility_timeout_seconds",
                f"{timeout} must be above BPSYNC_TASK_TIME_LIMIT_SECONDS ({limit}), {why}",
                example=str(max(3600, limit + 600)),
            )
        raise SettingProblem(
            "task_time_limit_seconds",
            f"{limit} must be below BPSYNC_VISIBILITY_TIMEOUT_SECONDS ({timeout}), {why}",
            example=str(min(600, timeout - 60)),
        )
    if not conf.embedded and conf.shared_redis_url is None and conf.rate_limits_enabled:
        # Per-process limiters let N worker processes call Zoho N times too fast; a Projects 429 locks the
        # user out for 30 minutes.
        raise SettingProblem(
            "redis_url",
            f"required with the {urlsplit(conf.broker_url).scheme}:// broker: the Zoho rate limiter and token "
            "cache must be shared by every worker process (or opt out with BPSYNC_RATE_LIMITS_ENABLED=false)",
        )


# ------------------------------------------------------------------------------------------ the declarations
class Setting:
    """One setting's declaration: what pydantic's ``Field`` would say of it, and its check. ``Settings.model_fields``
    maps each name to its declaration."""

    def __init__(
        self,
        default: Any = None,
        *,
        default_factory: Callable[[], Any] | None = None,
        ge: float | None = None,
        gt: float | None = None,
        le: float | None = None,
        examples: list[str] | None = None,
        check: Callable[[Any], Any] | None = None,
    ) -> None:
        self.default = default
        self.default_factory = default_factory
        self.ge, self.gt, self.le = ge, gt, le
        self.examples = examples
        self.check = check
        self.annotation = ""  # the type as written in Settings: "str", "str | None", "int", "float" or "bool"


def setting(default: Any = None, **declared: Any) -> Any:
    """A ``Setting``, typed as its value (``x: int = setting(5, ge=1)``, as with pydantic's ``Field``)."""
    return Setting(default, **declared)


class Settings:
    """Every setting, validated (``load_settings``); ``model_fields``, ``model_fields_set``, ``model_copy`` and
    ``model_dump`` as a pydantic model has them."""

    database_url: str = setting(
        default_factory=_default_database_url,
        examples=["postgresql+psycopg://bpsync@db:5432/bpsync"],
        check=_check_database_url,
    )
    broker_url: str = setting("memory://", examples=["redis://redis:6379/0"], check=_check_broker_url)
    result_backend: str | None = setting(examples=["redis://redis:6379/2"], check=_check_result_backend)
    # Redis for the shared OAuth token cache and the global Zoho rate limiter; None = the broker's Redis, or
    # in-process with the memory:// broker (see shared_redis_url).
    redis_url: str | None = setting(examples=["redis://redis:6379/1"], check=_check_redis_url)
    secret_key: str | None = setting(examples=["$(bpsync keygen)"], check=_check_secret_key)
    web_bind: str = setting("127.0.0.1:8000", check=_check_web_bind)
    web_token: str | None = setting(examples=["$(openssl rand -hex 24)"], check=_check_web_token)
    # Where Zoho reaches `bpsync web` (e.g. https://sync.example.com), for the webhook URLs ops paste into Zoho.
    public_url: str | None = setting(examples=["https://sync.example.com"], check=_check_http_url)
    # The web app's Connect flow: the Zoho OAuth client (API console > Server-based Applications) and the
    # redirect URI registered for it (default: BPSYNC_PUBLIC_URL + /connect/callback).
    oauth_client_id: str | None = setting(examples=["1000.ABCDEFGHIJ0123456789"], check=_check_oauth_client)
    oauth_client_secret: str | None = setting(
        examples=["0123456789abcdef0123456789abcdef01234567"], check=_check_oauth_client
    )
    oauth_redirect_uri: str | None = setting(
        examples=["https://sync.example.com/connect/callback"], check=_check_oauth_redirect_uri
    )
    log_level: str = setting("INFO", check=_check_log_level)
    log_json: bool = setting(False)

    # Zoho endpoints: a data center picks the hosts; each can be overridden (that is how the sandbox is used).
    data_center: str = setting("US", check=_check_data_center)
    projects_api_url: str | None = setting(examples=["http://sandbox:8765"], check=_check_http_url)
    books_api_url: str | None = setting(examples=["http://sandbox:8765/books/v3"], check=_check_http_url)
    accounts_url: str | None = setting(examples=["http://sandbox:8765"], check=_check_http_url)
    http_timeout_seconds: float = setting(30.0, gt=0)

    # Zoho limits (reference: Books 100/min per org + daily cap by plan; Projects 100 per 2 min per user).
    books_requests_per_minute: int = setting(100, ge=1)
    books_window_seconds: float = setting(60.0, gt=0)
    books_daily_limit: int = setting(5000, ge=1)
    projects_requests_per_window: int = setting(100, ge=1)
    projects_window_seconds: float = setting(120.0, gt=0)
    # Off only for benchmarks that measure raw throughput against a sandbox with limits off.
    rate_limits_enabled: bool = setting(True)
    http_retry_attempts: int = setting(3, ge=1)  # total tries of a safe request
    http_retry_base_seconds: float = setting(0.5, ge=0)
    # Namespace of this deployment's keys in a shared Redis (token cache, limiter).
    redis_key_prefix: str = setting("bpsync", check=_check_redis_key_prefix)
    # A caller that would wait longer than this gets a "retry at T" signal instead of blocking a worker slot.
    max_inline_wait_seconds: float = setting(5.0, ge=0)

    # Scheduling
    default_sync_interval_hours: float = setting(24.0, gt=0, le=24 * 366)  # the range `bpsync connect` accepts
    # At least a second: 0 made beat send ticks as fast as it could (tens of thousands a minute).
    beat_tick_seconds: float = setting(30.0, ge=1)
    # The soft limit is 30 s earlier, so a task gets its SoftTimeLimitExceeded with time to clean up.
    task_time_limit_seconds: int = setting(600, ge=60)
    visibility_timeout_seconds: int = setting(3600, ge=120)  # above the smallest time limit
    embedded_polling_interval: float = setting(0.01, ge=0.001)
    # Sync engine: a module task processes source pages until it has done this many or spent slice_seconds, then
    # continues itself as a new task at the back of the queue (turns between tenants are bounded in time; pages
    # differ a hundredfold in size: a page of one project's tasks or of 100 clients).
    slice_pages: int = setting(100, ge=1)
    slice_seconds: float = setting(2.0, gt=0, le=3600)
    # A worker holds a module run for this long per slice (extended per page); a killed worker's lease lapses.
    module_lease_seconds: float = setting(120.0, gt=0)
    # The sweeper re-enqueues a current module that showed no sign of life for this long...
    stale_after_seconds: float = setting(300.0, gt=0)
    # ...at most this many times before the module is marked failed and the run moves on.
    max_module_attempts: int = setting(5, ge=1)
    # A module slice that failed without progress waits 1x, 6x, 24x, then 120x this before the next attempt.
    retry_backoff_seconds: float = setting(5.0, gt=0)
    # Instant path: new time logs of synced projects are polled this often (0 turns the poll off).
    instant_poll_minutes: float = setting(5.0, ge=0)
    # ...but polls of an integration use at most this share of its Projects quota (big portals poll less often).
    instant_poll_quota_share: float = setting(0.25, gt=0, le=1)
    # Fallback path of Books transactions (when no Books webhook is configured): poll this often, in seconds
    # (0 turns it off); polls stay within instant_poll_quota_share of the Books per-minute and daily quota.
    transactions_poll_seconds: float = setting(60.0, ge=0, le=86400)
    # Daily runs re-read every month of a project's time logs this often; in between, only months that can have
    # changed (0: every run reads every month).
    timelog_deep_read_days: float = setting(7.0, ge=0)
    # History retention (shared/db/retention.py, by the beat): finished runs older than this many days are
    # deleted (0: keep every run), instant polls and webhook runs that wrote nothing after this many hours, but
    # the newest history_keep_runs module runs of each integration's module are kept whatever their age.
    history_retention_days: float = setting(90.0, ge=0, le=36500)
    history_idle_run_hours: float = setting(24.0, gt=0, le=24 * 36500)
    history_keep_runs: int = setting(20, ge=1, le=100_000)

    model_fields: dict[str, Setting]  # every declaration by name, in the order above (set below the class)
    model_fields_set: set[str]  # the settings the environment or the caller gave (the rest are defaults)

    def __init__(self, **values: Any) -> None:
        """The environment's ``BPSYNC_*`` variables, overridden by ``values``; ConfigError names a bad one."""
        given = {**_environment(self.model_fields), **values}
        self.model_fields_set = {name for name in given if name in self.model_fields}
        for name, declared in self.model_fields.items():
            raw = given[name] if name in given else _default(declared)
            value = _plainly_valid(declared, raw)
            if value is _ASK_PYDANTIC:
                self._validated_by_pydantic(given)
                return
            setattr(self, name, value)
        try:
            _check_together(self)
        except ValueError:
            self._validated_by_pydantic(given)

    def _validated_by_pydantic(self, given: dict[str, Any]) -> None:
        from pydantic import ValidationError

        try:
            model = _pydantic_model()(**given)
        except ValidationError as exc:
            raise config_error(exc.errors()[0]) from None
        for name in self.model_fields:
            setattr(self, name, getattr(model, name))
        self.model_fields_set = set(model.model_fields_set)

    @classmethod
    def model_rebuild(cls, *, force: bool = False) -> None:
        """Forget the pydantic model built from the declarations (a test changed one)."""
        _pydantic_model.cache_clear()

    def model_dump(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields}

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Settings:
        """A copy, with ``update``'s values as they are (not validated, as pydantic's model_copy)."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy.__dict__.update(update or {})
        copy.model_fields_set = self.model_fields_set | set(update or {})
        return copy

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and type(other) is type(self) and self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]  # mutable, like a pydantic model

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.model_dump().items())})"

    @property
    def embedded(self) -> bool:
        return self.broker_url.startswith("memory://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def shared_redis_url(self) -> str | None:
        """Redis shared by every process for the token cache and the rate limiter: BPSYNC_REDIS_URL, else the
        broker's Redis; None (in-process, embedded mode only) with the memory:// broker."""
        if self.redis_url:
            return self.redis_url
        if urlsplit(self.broker_url).scheme in {"redis", "rediss"}:
            return self.broker_url
        return None

    @property
    def connect_redirect_uri(self) -> str | None:
        """Where Zoho sends the admin back in the web's Connect flow (None: neither setting gives one)."""
        if self.oauth_redirect_uri:
            return self.oauth_redirect_uri
        return self.public_url.rstrip("/") + CONNECT_CALLBACK_PATH if self.public_url else None

    @property
    def web_host(self) -> str:
        return self.web_bind.rpartition(":")[0].strip("[]")

    @property
    def web_port(self) -> int:
        return int(self.web_bind.rpartition(":")[2])


Settings.model_fields = {name: value for name, value in vars(Settings).items() if isinstance(value, Setting)}
for _name, _declared in Settings.model_fields.items():
    _declared.annotation = Settings.__annotations__[_name]
    delattr(Settings, _name)  # an instance always has its own value; the class keeps the declarations above


# ------------------------------------------------------------------------------------------- the validation
_ASK_PYDANTIC = object()
# numbers as people write them, which int() and float() read as pydantic does (pydantic takes more: " 5 ", "1_000")
_PLAIN_INT = r"[+-]?[0-9]+"  # as text: see _WEB_BIND
_PLAIN_FLOAT = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True, "t": True, "y": True}
_BOOLEANS |= {"false": False, "0": False, "no": False, "off": False, "f": False, "n": False}


def _default(declared: Setting) -> Any:
    return declared.default_factory() if declared.default_factory is not None else declared.default


def _plainly_valid(declared: Setting, raw: Any) -> Any:
    """``raw`` as the pydantic model makes it when that is plain to see, else _ASK_PYDANTIC (to refuse it, or to
    coerce it in ways of its own)."""
    kind = declared.annotation
    if kind == "str | None" and isinstance(raw, str) and not raw.strip():
        raw = None  # `BPSYNC_X=` (e.g. compose's ${X:-}) means "not set", not an empty URL or key
    if raw is None:
        value: Any = None
        if kind != "str | None":
            return _ASK_PYDANTIC
    elif kind in ("str", "str | None"):
        if type(raw) is not str:
            return _ASK_PYDANTIC
        value = raw
    elif kind == "bool":
        value = raw if type(raw) is bool else _BOOLEANS.get(raw.lower()) if type(raw) is str else None
        if value is None:
            return _ASK_PYDANTIC
    elif kind == "int":
        if type(raw) is int:
            value = raw
        elif type(raw) is str and re.fullmatch(_PLAIN_INT, raw, re.ASCII):
            value = int(raw)
        else:
            return _ASK_PYDANTIC
    elif kind == "float":
        if type(raw) in (int, float) or (type(raw) is str and re.fullmatch(_PLAIN_FLOAT, raw, re.ASCII)):
            value = float(raw)
        else:
            return _ASK_PYDANTIC
        if not math.isfinite(value):
            return _ASK_PYDANTIC
    else:
        return _ASK_PYDANTIC
    if value is not None and not _in_bounds(declared, value):
        return _ASK_PYDANTIC
    if declared.check is not None:
        try:
            value = declared.check(value)
        except ValueError:
            return _ASK_PYDANTIC
    return value


def _in_bounds(declared: Setting, value: float) -> bool:
    return (
        (declared.ge is None or value >= declared.ge)
        and (declared.gt is None or value > declared.gt)
        and (declared.le is None or value <= declared.le)
    )


@functools.cache
def _pydantic_model() -> type[BaseModel]:
    """The pydantic model of the declarations: pydantic's coercion and error messages for what
    ``_plainly_valid`` does not vouch for."""
    from typing import Annotated

    from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, create_model, model_validator

    types: dict[str, Any] = {"str": str, "str | None": str | None, "int": int, "float": float, "bool": bool}
    fields: dict[str, Any] = {}
    for name, declared in Settings.model_fields.items():
        checks: list[Any] = []
        if declared.annotation == "str | None":
            checks.append(BeforeValidator(_blank_is_unset))
        if declared.check is not None:
            checks.append(AfterValidator(declared.check))
        bounds: dict[str, Any] = {"ge": declared.ge, "gt": declared.gt, "le": declared.le}
        if declared.default_factory is not None:
            field = Field(default_factory=declared.default_factory, examples=declared.examples, **bounds)
        else:
            field = Field(declared.default, examples=declared.examples, **bounds)
        kind = types[declared.annotation]
        fields[name] = (Annotated[kind, *checks] if checks else kind, field)

    def together(model: Any) -> Any:
        conf = object.__new__(Settings)
        conf.__dict__.update(model.__dict__)
        conf.model_fields_set = set(model.model_fields_set)
        _check_together(conf)
        return model

    # allow_inf_nan: "inf" or "nan" is no number of seconds; validate_default: a default is checked like a value
    config = ConfigDict(extra="ignore", allow_inf_nan=False, validate_default=True)
    validators: dict[str, Any] = {"_together": model_validator(mode="after")(together)}
    model: type[BaseModel] = create_model("Settings", __config__=config, __validators__=validators, **fields)
    return model


def _blank_is_unset(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


def example_of(field: str) -> str:
    """A valid value of a setting, for error lines: its documented example, else its default."""
    info = Settings.model_fields[field]
    if info.examples:
        return str(info.examples[0])
    if isinstance(info.default, bool):
        return str(info.default).lower()
    if isinstance(info.default, float):
        return f"{info.default:g}"
    return str(info.default)


def config_error(error: Mapping[str, Any]) -> ConfigError:
    """One pydantic error as the admin's line: ``BPSYNC_X: what is wrong (got 'v'); e.g. BPSYNC_X=valid``."""
    problem = (error.get("ctx") or {}).get("error")
    field = problem.field if isinstance(problem, SettingProblem) else str(error["loc"][0]) if error["loc"] else ""
    if field not in Settings.model_fields:
        return ConfigError(str(error["msg"]))
    message = str(error["msg"]).removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    raw = error.get("input")
    if error["type"] != "value_error" and field not in SECRET_FIELDS and isinstance(raw, str | int | float):
        message += f" (got {raw!r})"
    variable = f"{ENV_PREFIX}{field.upper()}"
    example = problem.example if isinstance(problem, SettingProblem) and problem.example else example_of(field)
    return ConfigError(f"{variable}: {message}; e.g. {variable}={example}")


def load_settings(**overrides: Any) -> Settings:
    """Read the environment; raise ConfigError with one line naming the first bad variable."""
    return Settings(**overrides)


@functools.cache
def get_settings() -> Settings:
    return load_settings()
