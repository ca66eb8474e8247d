"""The Alembic migrations build exactly the schema the models describe, on SQLite and
PostgreSQL; a database made before migrations existed is adopted, not broken."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from service.startup import seeding
from service.storage.models import db

from ..support import make_app


def test_migrations_match_the_models(database_url):
    app = make_app(database_url)
    with app.app_context():
        seeding.drop_all()
        seeding.init_db()
        with db.engine.connect() as connection, warnings.catch_warnings():
            # SQLAlchemy does not reflect expression indexes (R4's lower(email) one, whose
            # effect tests/api/test_write_integrity.py checks): compare everything else.
            warnings.filterwarnings("ignore", "Skipped unsupported reflection")
            warnings.filterwarnings("ignore", ".*expression-based index")
            context = MigrationContext.configure(connection, opts={
                "include_object": lambda item, name, kind, *_: name != "uq_sub_account_email"})
            differences = compare_metadata(context, db.metadata)
        assert differences == []
        assert "alembic_version" in inspect(db.engine).get_table_names()
        seeding.init_db()  # a second run changes nothing and does not fail
        db.session.remove()
        db.engine.dispose()


def test_a_database_from_before_migrations_is_adopted(tmp_path):
    (tmp_path / 'old.db').touch()  # an existing database (serving never creates the file)
    app = make_app(f"sqlite:///{tmp_path / 'old.db'}")
    with app.app_context():
        # What init-db's create_all made before migrations: the first migration's schema,
        # with no record of it.
        from flask_migrate import upgrade

        from service import MIGRATIONS

        upgrade(directory=str(MIGRATIONS), revision=seeding.BASELINE)
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE alembic_version")
        seeding.init_db()
        with db.engine.connect() as connection:
            version = MigrationContext.configure(connection).get_current_revision()
        assert version is not None
        db.engine.dispose()
