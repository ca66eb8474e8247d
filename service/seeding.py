"""Create the tables and load a seed policy CSV, one revision per tenant."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from . import config as config_module
from .domain import keys
from .domain import policy_admin as A
from .domain import rules as R
from .domain.accounts import Account
from .storage import keys_store, policy_store
from .storage.models import PolicyRule, Tenant, db


def init_db() -> None:
    db.create_all()
    policy_store.ensure_head()


def is_empty() -> bool:
    count = db.session.execute(select(func.count()).select_from(PolicyRule)).scalar_one()
    db.session.rollback()
    return count == 0


def load_seed(text: str, source: str, *, dev_keys: bool) -> dict[str, dict[str, str]]:
    """Load every tenant of a seed CSV; returns the keys created, by tenant and scope."""
    by_tenant: dict[str, list[R.Rule]] = defaultdict(list)
    for parsed in R.read_csv(text, source):
        by_tenant[parsed.tenant].append(parsed.rule)
    created: dict[str, dict[str, str]] = {}
    for tenant, tenant_rules in by_tenant.items():
        fixed = config_module.DEV_TENANT_KEYS.get(tenant, {}) if dev_keys else {}
        tokens: dict[str, str] = {}

        def edit(policy, tenant=tenant, tenant_rules=tenant_rules, fixed=fixed, tokens=tokens):
            db.session.add(Tenant(id=tenant, name=tenant))
            for scope in keys.SCOPES:
                tokens[scope] = keys_store.add(tenant, scope, fixed.get(scope))[1]
            A.create_tenant(policy)  # the seed file is the whole policy: no built-ins added
            for rule in tenant_rules:
                policy.add(rule)
            _directory_from_rules(policy)

        policy_store.write(tenant, "seed", f"seed from {source}", edit, bump_keys=True,
                           must_exist=False)
        created[tenant] = tokens
    return created


def _directory_from_rules(policy) -> None:
    """Profiles for the seed's sub-accounts (default store: the first assigned, R15) and
    its departments."""
    directory = policy.directory
    for parsed in policy.of_kind(R.Kind.ASSIGNMENT, R.Kind.MEMBERSHIP, R.Kind.GRANT,
                                 R.Kind.DIRECT, R.Kind.DISABLED):
        kind, _, name = parsed.rule.values[0].split(":", 2)
        if kind == "user" and name != R.OWNER_LOGIN and name not in directory.accounts:
            directory.accounts[name] = Account(name, display_name=name)
        if kind == "dept":
            directory.departments.setdefault(name, name)
        if parsed.kind is R.Kind.MEMBERSHIP:
            directory.departments.setdefault(parsed.rule.values[1].split(":", 2)[2], "")
    for department in directory.departments:
        directory.departments[department] = directory.departments[department] or department
    for login, account in directory.accounts.items():
        stores = A.assigned_stores(policy, login)
        account.default_store = stores[0] if stores else None
