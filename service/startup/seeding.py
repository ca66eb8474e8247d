"""Create the tables and load a seed policy CSV, one revision per tenant."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, inspect, select

from .. import config as config_module
from ..domain import keys
from ..domain import policy_admin as A
from ..domain import rules as R
from ..domain import subaccounts as S
from ..domain.revisions import TenantStore
from ..storage import policy_store
from ..storage.models import PolicyRule, db
from ..usecases import unit_of_work

BASELINE = "0001"  # the first migration: the schema that create_all made before migrations


def init_db() -> None:
    """Bring the schema to the newest migration, then repair any tenant head left behind its ledger.

    A database made before migrations existed (tables, no alembic_version) is stamped at
    the baseline first, so its later migrations apply instead of failing on CREATE TABLE."""
    from flask_migrate import stamp, upgrade

    from ..config import MIGRATIONS

    ensure_file()
    tables = set(inspect(db.engine).get_table_names())
    if "policy_rule" in tables and "alembic_version" not in tables:
        stamp(directory=str(MIGRATIONS), revision=BASELINE)
    upgrade(directory=str(MIGRATIONS))
    policy_store.repair_heads()
    _give_the_owner_its_apps()


def _give_the_owner_its_apps() -> None:
    """The owner's rule of each installed app (the model's "not installed" needs it: issue
    26), written once into tenants that installed apps before it existed: one ordinary
    write each, in its ledger."""
    installed = {(t, v0[len(R.APP_PREFIX):]) for t, v0 in db.session.execute(
        select(PolicyRule.tenant, PolicyRule.v0).where(
            PolicyRule.ptype == "g2", PolicyRule.v0.like(f"{R.APP_PREFIX}%")))}
    held = {(t, v2[:-2]) for t, v2 in db.session.execute(
        select(PolicyRule.tenant, PolicyRule.v2).where(
            PolicyRule.ptype == "p", PolicyRule.v3 == R.ANY, PolicyRule.v2 != R.ANY))}
    db.session.rollback()
    missing = installed - held
    for tenant in sorted({t for t, _ in missing}):
        apps = sorted(app for t, app in missing if t == tenant)

        def edit(policy, apps=apps) -> None:
            for app in apps:
                policy.add(R.owner_app(policy.tenant, app))

        unit_of_work.write(policy_store.SQL, tenant, "init-db",
                           "the owner's rule of each installed app", edit)


def ensure_file() -> None:
    """Create the SQLite file of the embedded default (serving never creates it), in
    write-ahead-log mode."""
    from flask import current_app

    from ..config import sqlite_path

    path = sqlite_path(current_app.config["AUTHZ_DATABASE_URL"])
    if path is None:
        return
    if not path.exists():
        path.touch()
    # Write-ahead logging (kept in the file): readers never wait for a writer, and the
    # data_version a worker asks before each /check (storage/notifier.SqliteWatcher) costs
    # a third of what it costs with a rollback journal.
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")


def drop_all() -> None:
    """Every table, the migration record included (tests start from nothing)."""
    ensure_file()
    db.drop_all()
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        connection.exec_driver_sql("DROP TABLE IF EXISTS policy_head")  # before 0008


def is_empty() -> bool:
    count = db.session.execute(select(func.count()).select_from(PolicyRule)).scalar_one()
    db.session.rollback()
    return count == 0


def load_seed(text: str, source: str, *, dev_keys: bool,
              store: TenantStore = policy_store.SQL) -> dict[str, dict[str, str]]:
    """Load every tenant of a seed CSV into `store`; returns the keys created, by tenant
    and scope."""
    by_tenant: dict[str, list[R.Rule]] = defaultdict(list)
    for parsed in R.read_csv(text, source):
        by_tenant[parsed.tenant].append(parsed.rule)
    created: dict[str, dict[str, str]] = {}
    for tenant, tenant_rules in by_tenant.items():
        fixed = config_module.DEV_TENANT_KEYS.get(tenant, {}) if dev_keys else {}
        tokens: dict[str, str] = {}

        def edit(policy, tenant=tenant, tenant_rules=tenant_rules, fixed=fixed, tokens=tokens):
            policy.create(tenant)
            for scope in keys.SCOPES:
                tokens[scope] = policy.keys.add(scope, fixed.get(scope))[1]
            A.create_tenant(policy)  # the seed file is the whole policy: no built-ins added
            for rule in tenant_rules:
                policy.add(rule)
            S.sync_directory(policy)

        unit_of_work.write(store, tenant, "seed", f"seed from {source}", edit,
                           must_exist=False)
        created[tenant] = tokens
    return created
