"""The Alembic migrations build exactly the schema the models describe, on SQLite and
PostgreSQL; a database made before migrations existed is adopted, not broken."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from service.domain.accounts import TenantSettings
from service.startup import seeding
from service.storage import ledger, policy_store
from service.storage.models import LedgerEntry, db
from service.usecases.unit_of_work import write

from ..support import make_app

pytestmark = pytest.mark.storage  # run on both databases (tests/conftest.py)


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

        from service.config import MIGRATIONS

        upgrade(directory=str(MIGRATIONS), revision=seeding.BASELINE)
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE alembic_version")
        seeding.init_db()
        with db.engine.connect() as connection:
            version = MigrationContext.configure(connection).get_current_revision()
        assert version is not None
        db.engine.dispose()


def test_a_platform_chain_from_before_per_tenant_revisions_still_verifies(database_url):
    """A database from before migration 0008 (one revision numbering and one hash chain
    across tenants) keeps its history verifiable; each tenant's revisions continue from its
    highest one and its new entries chain to its last old one."""
    from flask_migrate import upgrade

    from service.config import MIGRATIONS

    app = make_app(database_url)
    with app.app_context():
        seeding.drop_all()
        upgrade(directory=str(MIGRATIONS), revision="0007")
        moment = datetime(2026, 1, 1, tzinfo=UTC)
        history = [(1, "acme", ("acme/amazon-us", "acme")),
                   (2, "globex", ("globex/ebay-de", "globex")),
                   (3, "acme", ("acme/shopee-sg", "acme"))]
        entries = sa.table("revision_log", *(sa.column(c) for c in (
            "revision", "tenant", "actor", "reason", "added", "removed", "request_id",
            "details", "prev_hash", "hash")), sa.column("created_at", sa.DateTime(True)))
        rules = sa.table("policy_rule", *(sa.column(c) for c in (
            "tenant", "ptype", "v0", "v1", "v2", "v3", "v4", "v5")))
        tenants = sa.table("tenant", sa.column("id"), sa.column("name"),
                           sa.column("max_sub_accounts"), sa.column("language"),
                           sa.column("created_at", sa.DateTime(True)))
        hashes = {}
        with db.engine.begin() as connection:
            connection.execute(sa.insert(tenants), [
                {"id": t, "name": t, "max_sub_accounts": 99, "language": "en",
                 "created_at": moment} for t in ("acme", "globex")])
            connection.execute(sa.text("INSERT INTO policy_head (id, revision, keys_epoch) "
                                       "VALUES (1, 3, 0)"))
            previous = ledger.GENESIS
            for revision, tenant, values in history:
                row = SimpleNamespace(revision=revision, tenant=tenant, created_at=moment,
                                      actor="test", reason="", request_id="",
                                      added=json.dumps([["g2", *values]]), removed="[]",
                                      details="{}")
                hashes[revision] = ledger.entry_hash(row, previous)
                connection.execute(sa.insert(entries).values(
                    **vars(row), prev_hash=previous, hash=hashes[revision]))
                connection.execute(sa.insert(rules).values(
                    tenant=tenant, ptype="g2", v0=values[0], v1=values[1], v2="", v3="",
                    v4="", v5=""))
                previous = hashes[revision]
        seeding.init_db()
        migrated = ledger.verify()
        assert migrated.ok and migrated.entries == 3 and migrated.chains == 1
        assert (policy_store.head("acme"), policy_store.head("globex")) == (3, 2)
        written = write(policy_store.SQL, "acme", "test", "", lambda p: setattr(
            p.directory, "settings", TenantSettings(50, "en")))
        assert written.revision == 4
        entry = db.session.get(LedgerEntry, ("acme", 4))
        assert entry.prev_hash == hashes[3] and entry.platform_chain is False
        db.session.rollback()
        grown = ledger.verify()
        assert grown.ok and grown.chains == 2 and grown.entries == 4
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("ALTER TABLE revision_log DISABLE TRIGGER "
                                           "revision_log_append_only"))
            connection.execute(sa.text("UPDATE revision_log SET reason = 'x' "
                                       "WHERE tenant = 'globex' AND revision = 2"))
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("ALTER TABLE revision_log ENABLE TRIGGER "
                                           "revision_log_append_only"))
        (broken,) = ledger.verify().broken
        assert (broken.chain, broken.tenant, broken.revision) == (ledger.PLATFORM, "globex", 2)
        seeding.drop_all()
        db.session.remove()
        db.engine.dispose()
