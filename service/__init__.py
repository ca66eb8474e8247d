"""Authorization service for multi-store online sellers."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from flask_migrate import Migrate

from .startup import config as config_module
from .startup.config import sqlite_path

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(config: object = None) -> Flask:
    """Build the app. `config` is a mapping or a class of UPPERCASE settings."""
    settings = config_module.resolve(config)
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
    from .runtime.decision_log import DecisionLog
    from .startup import cli
    from .storage.models import db
    from .usecases.authz import Authz

    clock.use_offset_file(settings.test_clock)
    db.init_app(app)
    # `flask db ...` (Flask-Migrate): the schema is Alembic's, applied by init-db and `make run`.
    Migrate(app, db, directory=str(MIGRATIONS), render_as_batch=True)
    app.extensions["authz"] = Authz(settings, DecisionLog(app, settings), app)
    api.init_app(app)
    console.init_app(app)
    cli.init_app(app)
    if settings.production:
        _refuse_development_keys(app)
    return app


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
