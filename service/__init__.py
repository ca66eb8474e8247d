"""Authorization service for multi-store online sellers."""

from __future__ import annotations

import logging

from flask import Flask
from flask_migrate import Migrate

from . import config as config_module
from .config import MIGRATIONS, sqlite_path


def create_app(config: object = None) -> Flask:
    """Build the app. `config` is a mapping or a class of UPPERCASE settings."""
    settings = config_module.resolve(config)
    _check_formats(settings)
    app = Flask(__name__)
    app.config.update(settings.as_keys())
    app.config["SQLALCHEMY_DATABASE_URI"] = serving_url(settings.database_url)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(settings.database_url)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False
    logging.basicConfig(level=logging.INFO)
    # pycasbin logs the whole model at INFO for every enforcer it builds (one per tenant).
    logging.getLogger("casbin").setLevel(logging.WARNING)

    from . import api, console
    from .domain import clock
    from .runtime import tracing
    from .startup import cli
    from .storage.models import db

    tracing.configure()
    clock.use_offset_file(settings.test_clock)
    db.init_app(app)
    # `flask db ...` (Flask-Migrate): the schema is Alembic's, applied by init-db and `make run`.
    Migrate(app, db, directory=str(MIGRATIONS), render_as_batch=True)
    app.extensions["authz"] = _service(app, settings)
    api.init_app(app)
    console.init_app(app)
    cli.init_app(app)
    if settings.production:
        _refuse_development_keys(app)
    return app


def _check_formats(settings: config_module.Settings) -> None:
    """The settings whose format another layer owns (config.py imports nothing of ours)."""
    from .domain.keys import key_id_of
    from .runtime.rate_limit import parse

    if key_id_of(settings.admin_key) is None:
        raise config_module.ConfigError(
            "AUTHZ_ADMIN_KEY", "must look like <id>.<secret of 16+ characters>")
    try:
        parse(settings.write_rate_limit)
    except ValueError as exc:
        raise config_module.ConfigError("AUTHZ_WRITE_RATE_LIMIT", str(exc)) from None


def _service(app: Flask, settings: config_module.Settings):
    """The service object and its parts, built here and handed in (the composition root:
    the only module that knows every layer)."""
    from flask import has_request_context, request

    from .domain import keys
    from .domain.decider import Decider
    from .runtime.background import Background
    from .runtime.decision_log import DecisionLog
    from .runtime.rate_limit import WriteLimiter
    from .runtime.replica import Replica
    from .storage.notifier import SqliteWatcher
    from .storage.policy_store import SQL
    from .usecases import expiry
    from .usecases.authz import Authz
    from .usecases.unit_of_work import HeldWrites

    refused = frozenset(map(keys.digest, config_module.DEV_TOKENS)) \
        if settings.production else frozenset()
    path = sqlite_path(settings.database_url)
    replica = Replica(Decider(), settings.admin_key, settings.sync_interval, refused,
                      SqliteWatcher(path).changed if path is not None else None,
                      settings.tenant_cache_mb, lambda: expiry.sweep_written(SQL),
                      source=SQL)

    def request_id() -> str:  # telemetry.RequestLog accepted or made it
        return request.environ.get("HTTP_X_REQUEST_ID", "") if has_request_context() else ""

    return Authz(settings, replica,
                 WriteLimiter(settings.write_rate_limit, settings.rate_limit_redis_url),
                 DecisionLog(app, settings), Background(app, replica, settings), SQL,
                 HeldWrites(verify=settings.verify_held_writes), request_id)


def _refuse_development_keys(app: Flask) -> None:
    """Production stops at start-up if the database still holds a development key (the
    seed's fixed keys are public: they are in the README). Workers also ignore such keys."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from .domain.keys import digest
    from .storage.models import ApiKey, db

    try:
        with app.app_context():
            found = db.session.execute(select(ApiKey.id).where(
                ApiKey.secret_hash.in_([digest(t) for t in config_module.DEV_TOKENS]),
                ApiKey.revoked_at.is_(None))).scalars().all()
            db.session.remove()
    except SQLAlchemyError:
        return  # no database yet (or no tables): nothing to refuse; workers filter anyway
    if found:
        raise config_module.ConfigError(
            "AUTHZ_MODE", f"production refuses development keys in the database: "
                          f"{', '.join(sorted(found))}; revoke them first")


def serving_url(url: str) -> str:
    """A SQLite file is opened read-write but never created by connecting: a worker that
    finds it deleted must say so (not ready), not serve a new empty database. Only
    init-db creates the file (seeding.init_db)."""
    path = sqlite_path(url)
    if path is None or "?" in url:
        return url
    return f"sqlite:///file:{path}?mode=rw&uri=true"


def _engine_options(url: str) -> dict:
    path = sqlite_path(url)
    if path is not None:
        # A fresh clone has no instance/ folder yet; SQLite will not create it.
        path.parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        # Several workers share the file: wait for the write lock instead of failing.
        return {"connect_args": {"timeout": 15}}
    # Fail fast when the server is unreachable (/check keeps answering from memory), and
    # never let a write wait forever behind a transaction whose client vanished: the
    # server ends such a transaction, and a writer gives up on the lock with a 503. No
    # statement runs longer than 10 s (the follower's reads included: a stalled database
    # never holds a worker's thread for good).
    return {"pool_pre_ping": True, "connect_args": {
        "connect_timeout": 3,
        "options": "-c lock_timeout=5s -c statement_timeout=10s "
                   "-c idle_in_transaction_session_timeout=10s",
    }}
