"""Configuration: defaults, then AUTHZ_* environment variables, then what create_app is given.

Checked once at start-up; a bad or missing value stops the process naming the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the checkout: service/config.py
MIGRATIONS = ROOT / "service" / "migrations"  # Alembic's (Flask-Migrate)
PREFIX = "AUTHZ_"

# Fixed development keys, printed at start-up and written in the README. Production mode
# refuses to start with any of them.
DEV_ADMIN_KEY = "admin-dev.dev-admin-secret-not-for-production"
DEV_TENANT_KEYS = {
    # tenant: {scope: token}
    "acme": {
        "owner": "acme-owner.dev-acme-owner-secret-0001",
        "audit": "acme-audit.dev-acme-audit-secret-0001",
        "check": "acme-check.dev-acme-check-secret-0001",
    },
    "globex": {
        "owner": "globex-owner.dev-globex-owner-secret-01",
        "audit": "globex-audit.dev-globex-audit-secret-01",
        "check": "globex-check.dev-globex-check-secret-01",
    },
}
# Signs the console's session cookies; every worker and instance must share it.
DEV_SESSION_SECRET = "dev-console-session-secret-not-for-production"
DEV_TOKENS = {DEV_ADMIN_KEY} | {t for scopes in DEV_TENANT_KEYS.values() for t in scopes.values()}


class ConfigError(SystemExit):
    """Stops the process with the name of the bad setting."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"configuration error: {key}: {problem}")
        self.key = key


DEFAULTS = {
    "AUTHZ_MODE": "development",
    "AUTHZ_DATABASE_URL": f"sqlite:///{ROOT / 'instance' / 'authz.db'}",
    "AUTHZ_ADMIN_KEY": None,
    "AUTHZ_MODEL_PATH": str(ROOT / "policies" / "model.conf"),
    "AUTHZ_SEED_PATH": str(ROOT / "policies" / "seed.csv"),
    # None: 0 for SQLite (look before every request), 1 s for PostgreSQL (notifications
    # wake workers at once; the poll only catches a lost notification)
    "AUTHZ_SYNC_INTERVAL": None,
    "AUTHZ_CONSISTENCY_WAIT": 1.0,
    "AUTHZ_LISTEN": True,  # PostgreSQL LISTEN/NOTIFY in each worker
    "AUTHZ_MAX_BATCH": 1000,
    "AUTHZ_MAX_BODY_BYTES": 1_048_576,
    # Writes per API key (checks are never limited); counted in Redis when the URL is set,
    # shared by all workers and instances, else per worker process.
    "AUTHZ_WRITE_RATE_LIMIT": "600/minute",
    "AUTHZ_RATE_LIMIT_REDIS_URL": None,
    "AUTHZ_REQUEST_LOG": True,  # one JSON line per request on stderr
    # The decision log (R19): every deny and high-risk allow, this share of other allows.
    "AUTHZ_DECISION_LOG": True,
    "AUTHZ_DECISION_LOG_SAMPLE": 0.01,
    "AUTHZ_DECISION_LOG_INTERVAL": 1.0,  # seconds between batched writes (0: no thread)
    "AUTHZ_DECISION_LOG_RETENTION_DAYS": 30,
    # The admin console (/console): the key that signs its session cookies (shared by all
    # workers and instances), and how long a login lasts.
    "AUTHZ_SESSION_SECRET": None,
    "AUTHZ_SESSION_HOURS": 8,
    # Each worker loads a tenant on the first request that needs it and keeps the tenants
    # it holds within this many MB, least recently used out first (None: no limit).
    "AUTHZ_TENANT_CACHE_MB": None,
    # Tests: every write also reads its tenant whole and refuses when the copy this worker
    # keeps of it (usecases/unit_of_work.HeldWrites) differs from it.
    "AUTHZ_VERIFY_HELD_WRITES": False,
    # Tests only (refused in production): a file holding seconds added to the clock that
    # grants' and approvals' ends are compared with, read by every process (domain/clock.py).
    "AUTHZ_TEST_CLOCK": None,
}


def from_environment(environ: Mapping[str, str]) -> dict:
    out = {k: v for k, v in environ.items() if k.startswith(PREFIX) and k in DEFAULTS}
    if "AUTHZ_DATABASE_URL" not in out and environ.get("DATABASE_URL"):
        out["AUTHZ_DATABASE_URL"] = environ["DATABASE_URL"]
    return out


def _number(settings: dict, key: str, kind: type, low: float) -> None:
    try:
        value = kind(settings[key])
    except (TypeError, ValueError):
        raise ConfigError(key, f"must be a {kind.__name__}") from None
    if value < low:
        raise ConfigError(key, f"must be at least {low}")
    settings[key] = value


def _flag(settings: dict, key: str) -> bool:
    value = settings[key]
    if isinstance(value, str):
        if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ConfigError(key, "must be true or false")
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None: another database, or one in memory)."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url[len("sqlite:///"):].split("?", 1)[0])
    return None


def database_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


@dataclass(frozen=True)
class Settings:
    """The checked settings, typed; one field per AUTHZ_* variable (AUTHZ_MAX_BATCH is
    `max_batch`). Built once by resolve(); nothing changes it afterwards."""

    mode: str
    database_url: str
    admin_key: str
    model_path: str
    seed_path: str
    sync_interval: float
    consistency_wait: float
    listen: bool
    max_batch: int
    max_body_bytes: int
    write_rate_limit: str
    rate_limit_redis_url: str | None
    request_log: bool
    decision_log: bool
    decision_log_sample: float
    decision_log_interval: float
    decision_log_retention_days: int
    session_secret: str
    session_hours: float
    tenant_cache_mb: float | None
    verify_held_writes: bool
    test_clock: str | None

    @property
    def production(self) -> bool:
        return self.mode == "production"

    def as_keys(self) -> dict:
        """AUTHZ_* keys, for Flask's app.config."""
        return {PREFIX + f.name.upper(): getattr(self, f.name) for f in fields(self)}


def resolve(config: object = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Merge and check the settings; raises ConfigError naming the first bad key."""
    given = from_environment(os.environ if environ is None else environ)
    if config is not None:
        if isinstance(config, Mapping):
            given.update(config)
        else:
            given.update({k: getattr(config, k) for k in dir(config) if k.isupper()})
    settings = {**DEFAULTS, **given}

    mode = settings["AUTHZ_MODE"]
    if mode not in ("development", "production"):
        raise ConfigError("AUTHZ_MODE", "must be 'development' or 'production'")
    if mode == "development" and not settings["AUTHZ_ADMIN_KEY"]:
        settings["AUTHZ_ADMIN_KEY"] = DEV_ADMIN_KEY
    key = settings["AUTHZ_ADMIN_KEY"]
    if not key:
        raise ConfigError("AUTHZ_ADMIN_KEY", "required in production mode")
    if mode == "production" and key in DEV_TOKENS:
        raise ConfigError("AUTHZ_ADMIN_KEY", "is a development key; production refuses it")
    if not settings["AUTHZ_DATABASE_URL"] or (
        mode == "production" and "AUTHZ_DATABASE_URL" not in given
    ):
        raise ConfigError("AUTHZ_DATABASE_URL", "required (or DATABASE_URL)")
    settings["AUTHZ_DATABASE_URL"] = database_url(settings["AUTHZ_DATABASE_URL"])
    secret = settings["AUTHZ_SESSION_SECRET"]
    if not secret:
        if mode == "production":
            raise ConfigError("AUTHZ_SESSION_SECRET", "required in production mode")
        settings["AUTHZ_SESSION_SECRET"] = secret = DEV_SESSION_SECRET
    if mode == "production" and secret == DEV_SESSION_SECRET:
        raise ConfigError("AUTHZ_SESSION_SECRET", "is the development secret")
    if len(str(secret)) < 32:
        raise ConfigError("AUTHZ_SESSION_SECRET", "must be at least 32 characters")
    _number(settings, "AUTHZ_SESSION_HOURS", float, 0.05)
    for path_key in ("AUTHZ_MODEL_PATH",):
        if not Path(settings[path_key]).is_file():
            raise ConfigError(path_key, f"no file at {settings[path_key]}")
    if settings["AUTHZ_SYNC_INTERVAL"] is None:
        # SQLite's data_version (notifier.SqliteWatcher) and PostgreSQL's notifications say
        # at once when something was committed; the poll only backs them up.
        settings["AUTHZ_SYNC_INTERVAL"] = 1.0
    _number(settings, "AUTHZ_SYNC_INTERVAL", float, 0)
    if settings["AUTHZ_TENANT_CACHE_MB"] in (None, ""):
        settings["AUTHZ_TENANT_CACHE_MB"] = None
    else:
        _number(settings, "AUTHZ_TENANT_CACHE_MB", float, 0.01)
    if settings["AUTHZ_TEST_CLOCK"] in (None, ""):
        settings["AUTHZ_TEST_CLOCK"] = None
    elif mode == "production":
        raise ConfigError("AUTHZ_TEST_CLOCK", "is for tests; production uses the host's clock")
    _number(settings, "AUTHZ_CONSISTENCY_WAIT", float, 0)
    settings["AUTHZ_LISTEN"] = _flag(settings, "AUTHZ_LISTEN")
    settings["AUTHZ_REQUEST_LOG"] = _flag(settings, "AUTHZ_REQUEST_LOG")
    settings["AUTHZ_DECISION_LOG"] = _flag(settings, "AUTHZ_DECISION_LOG")
    settings["AUTHZ_VERIFY_HELD_WRITES"] = _flag(settings, "AUTHZ_VERIFY_HELD_WRITES")
    _number(settings, "AUTHZ_DECISION_LOG_SAMPLE", float, 0)
    if settings["AUTHZ_DECISION_LOG_SAMPLE"] > 1:
        raise ConfigError("AUTHZ_DECISION_LOG_SAMPLE", "must be between 0 and 1")
    _number(settings, "AUTHZ_DECISION_LOG_INTERVAL", float, 0)
    _number(settings, "AUTHZ_DECISION_LOG_RETENTION_DAYS", int, 1)
    _number(settings, "AUTHZ_MAX_BATCH", int, 1)
    _number(settings, "AUTHZ_MAX_BODY_BYTES", int, 1024)
    redis_url = settings["AUTHZ_RATE_LIMIT_REDIS_URL"]
    if redis_url and not str(redis_url).startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("AUTHZ_RATE_LIMIT_REDIS_URL", "must be a redis:// URL")
    return Settings(**{key[len(PREFIX):].lower(): settings[key] for key in DEFAULTS})
