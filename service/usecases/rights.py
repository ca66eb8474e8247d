"""Which key scope may call which service operation: the one table, checked once, by the
operation itself (views and console pages only decode, call and encode).

Every service operation that acts for a caller is declared with `@operation(NAME)`; a
test fails when one is not (tests/api/test_escalation.py), and the escalation tests read
RIGHTS to know what each key must be refused.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TypeVar

from ..domain.errors import Forbidden
from ..domain.keys import ADMIN, APP, AUDIT, CHECK, OWNER, Caller

F = TypeVar("F", bound=Callable)

READ = "policy.read"  # the policy, export, ledger, decision log, matrix, who-can, diff, lint
WRITE = "policy.write"  # any change to the policy, directory or settings (not the cap)
PREVIEW = "policy.preview"  # what a change would do: dry runs, batch and revocation previews
KEYS_READ = "keys.read"
KEYS_WRITE = "keys.write"
DECIDE = "decide"  # /check, what a user may do here
EXPLAIN = "explain"  # /explain: a decision with the rules behind it (a read of the policy)
CREATE_TENANT = "tenant.create"
SET_CAP = "settings.cap"  # the sub-account cap (R11)
VERIFY_LEDGER = "ledger.verify"  # the whole platform's ledger
APP_REGISTER = "app.register"  # register an app (R21)
APP_PUBLISH = "app.publish"  # an app's catalogue versions and keys: its own key, or the admin
APP_INSTALL = "app.install"  # install an app in a tenant
APP_IMPORT = "app.import"  # move an app's existing settings into a tenant that installed it
CATALOGUE_READ = "catalogue.read"  # the tenant's catalogue, its installed apps included
# R24: a storefront files an approval request for a sub-account, records an approver's
# decision on the approver's behalf, and lists what an approver may decide
APPROVAL_FILE = "approval.file"
APPROVAL_DECIDE = "approval.decide"
APPROVAL_QUEUE = "approval.queue"
# /check naming an approval spends it: only the storefront's keys (the tenant's check key,
# an app's key) act for the sub-account; an owner's, auditor's or the admin's check
# naming one must not spend it behind the storefront's back
APPROVAL_USE = "approval.use"
# A sub-account's edits, each a named use case (usecases/subaccounts.py)
SUBACCOUNT_CREATE = "subaccount.create"
SUBACCOUNT_PROFILE = "subaccount.profile"
SUBACCOUNT_STATUS = "subaccount.status"
SUBACCOUNT_STORES = "subaccount.stores"
SUBACCOUNT_DEPARTMENTS = "subaccount.departments"
# The owner's edits of stores, roles, grants and departments (usecases/policy_edits.py)
STORE_CREATE = "store.create"
STORE_CURRENCY = "store.currency"
STORE_REVOKE = "store.revoke"
STORE_MODE = "store.mode"
BATCH_STORES = "store.batch_assign"
PRODUCT_OPERATORS = "store.product_operators"
ROLE_CREATE = "role.create"
ROLE_PERMISSIONS = "role.permissions"
ROLE_DELETE = "role.delete"
GRANT_ROLE = "grant.role"
REVOKE_ROLE = "grant.revoke_role"
DIRECT_ADD = "grant.direct"
DIRECT_REMOVE = "grant.revoke_direct"
DEPARTMENT_CREATE = "department.create"
DEPARTMENT_RENAME = "department.rename"
# The tenant's own settings, approval modes, a policy file's import, an app's removal
SETTINGS = "tenant.settings"  # step-up (R10) and the console language; the cap is SET_CAP's
APPROVAL_MODE = "approval.mode"  # when a permission needs a second person (R24)
POLICY_IMPORT = "policy.import"  # a policy file as the tenant's whole policy (R20)
APP_UNINSTALL = "app.uninstall"
# every named edit of the tenant: the owner's and the admin's, as WRITE
NAMED_EDITS = (SUBACCOUNT_CREATE, SUBACCOUNT_PROFILE, SUBACCOUNT_STATUS, SUBACCOUNT_STORES,
               SUBACCOUNT_DEPARTMENTS, STORE_CREATE, STORE_CURRENCY, STORE_REVOKE, STORE_MODE,
               BATCH_STORES,
               PRODUCT_OPERATORS, ROLE_CREATE, ROLE_PERMISSIONS, ROLE_DELETE, GRANT_ROLE,
               REVOKE_ROLE, DIRECT_ADD, DIRECT_REMOVE, DEPARTMENT_CREATE, DEPARTMENT_RENAME,
               SETTINGS, APPROVAL_MODE, POLICY_IMPORT, APP_UNINSTALL)

RIGHTS: dict[str, frozenset[str]] = {
    READ: frozenset({OWNER, AUDIT, ADMIN}),
    WRITE: frozenset({OWNER, ADMIN}),
    PREVIEW: frozenset({OWNER, ADMIN}),
    KEYS_READ: frozenset({OWNER, ADMIN}),
    KEYS_WRITE: frozenset({OWNER, ADMIN}),
    DECIDE: frozenset({OWNER, AUDIT, CHECK, ADMIN, APP}),
    EXPLAIN: frozenset({OWNER, AUDIT, CHECK, ADMIN}),
    CREATE_TENANT: frozenset({ADMIN}),
    SET_CAP: frozenset({ADMIN}),
    VERIFY_LEDGER: frozenset({ADMIN}),
    APP_REGISTER: frozenset({ADMIN}),
    APP_PUBLISH: frozenset({APP, ADMIN}),
    APP_INSTALL: frozenset({OWNER, ADMIN}),
    APP_IMPORT: frozenset({APP, OWNER, ADMIN}),
    CATALOGUE_READ: frozenset({OWNER, AUDIT, CHECK, ADMIN}),
    APPROVAL_FILE: frozenset({OWNER, CHECK, ADMIN, APP}),
    APPROVAL_DECIDE: frozenset({OWNER, CHECK, ADMIN, APP}),
    APPROVAL_QUEUE: frozenset({OWNER, AUDIT, CHECK, ADMIN, APP}),
    APPROVAL_USE: frozenset({CHECK, APP}),
    SUBACCOUNT_CREATE: frozenset({OWNER, ADMIN}),
    SUBACCOUNT_PROFILE: frozenset({OWNER, ADMIN}),
    SUBACCOUNT_STATUS: frozenset({OWNER, ADMIN}),
    SUBACCOUNT_STORES: frozenset({OWNER, ADMIN}),
    SUBACCOUNT_DEPARTMENTS: frozenset({OWNER, ADMIN}),
    STORE_CREATE: frozenset({OWNER, ADMIN}),
    STORE_CURRENCY: frozenset({OWNER, ADMIN}),
    STORE_REVOKE: frozenset({OWNER, ADMIN}),
    STORE_MODE: frozenset({OWNER, ADMIN}),
    BATCH_STORES: frozenset({OWNER, ADMIN}),
    PRODUCT_OPERATORS: frozenset({OWNER, ADMIN}),
    ROLE_CREATE: frozenset({OWNER, ADMIN}),
    ROLE_PERMISSIONS: frozenset({OWNER, ADMIN}),
    ROLE_DELETE: frozenset({OWNER, ADMIN}),
    GRANT_ROLE: frozenset({OWNER, ADMIN}),
    REVOKE_ROLE: frozenset({OWNER, ADMIN}),
    DIRECT_ADD: frozenset({OWNER, ADMIN}),
    DIRECT_REMOVE: frozenset({OWNER, ADMIN}),
    DEPARTMENT_CREATE: frozenset({OWNER, ADMIN}),
    DEPARTMENT_RENAME: frozenset({OWNER, ADMIN}),
    SETTINGS: frozenset({OWNER, ADMIN}),
    APPROVAL_MODE: frozenset({OWNER, ADMIN}),
    POLICY_IMPORT: frozenset({OWNER, ADMIN}),
    APP_UNINSTALL: frozenset({OWNER, ADMIN}),
}
# What an app key may do in any tenant, as for decisions: about its own permissions only
# (the operation checks that).
APP_IN_ANY_TENANT = frozenset({DECIDE, APPROVAL_FILE, APPROVAL_DECIDE, APPROVAL_QUEUE,
                               APPROVAL_USE})

_REFUSALS = {READ: "this key may not read this tenant",
             WRITE: "this key may not change this tenant",
             PREVIEW: "this key may not change this tenant",
             KEYS_READ: "this key may not read this tenant's keys",
             KEYS_WRITE: "this key may not change this tenant",
             DECIDE: "this key may not ask for another tenant",
             EXPLAIN: "this key may not read this tenant's rules",
             APP_PUBLISH: "only the app's own key (or the admin) may do this",
             APP_INSTALL: "this key may not change this tenant",
             APP_IMPORT: "this key may not change this tenant",
             CATALOGUE_READ: "this key may not read this tenant",
             APPROVAL_FILE: "this key may not ask for approvals in this tenant",
             APPROVAL_DECIDE: "this key may not decide approvals in this tenant",
             APPROVAL_QUEUE: "this key may not read this tenant's approvals",
             APPROVAL_USE: "only the storefront's check key or an app's key may use an "
                           "approval",
             **dict.fromkeys(NAMED_EDITS, "this key may not change this tenant")}


def allowed(caller: Caller, name: str, tenant: str | None = None,
            app: str | None = None) -> bool:
    """Whether `caller` may run operation `name` on `tenant` (None: no tenant involved)
    and `app` (an app key acts on its own app only, and on no tenant: its decisions are
    Authz.check_tenant's)."""
    if caller.scope not in RIGHTS[name]:
        return False
    if caller.scope == ADMIN:
        return True
    if caller.scope == APP:  # decisions in any tenant: only its own permissions are answered
        if name in APP_IN_ANY_TENANT:
            return True
        # its own app; a tenant only to import into one that installed it (the owner's say)
        return app is not None and caller.app == app and (tenant is None
                                                         or name == APP_IMPORT)
    return tenant is None or caller.tenant == tenant


def authorize(caller: Caller, name: str, tenant: str | None = None,
              app: str | None = None) -> None:
    """Refuse (403) unless `caller` may run operation `name` on `tenant` and `app`."""
    if not allowed(caller, name, tenant, app):
        raise Forbidden(_REFUSALS.get(name, "only the platform admin key may do this"))


def operation(name: str) -> Callable[[F], F]:
    """Declare a service operation: its `caller` (and `tenant`, when it has one) are
    checked against RIGHTS[name] before it runs."""
    if name not in RIGHTS:
        raise KeyError(f"no row for operation {name!r} in RIGHTS")

    def decorate(function: F) -> F:
        signature = inspect.signature(function)
        names = list(signature.parameters)
        at_caller = names.index("caller")
        at_tenant = names.index("tenant") if "tenant" in names else None
        at_app = names.index("app") if "app" in names else None

        @functools.wraps(function)
        def checked(*args, **kwargs):
            caller = args[at_caller] if len(args) > at_caller else kwargs["caller"]
            tenant = (args[at_tenant] if at_tenant is not None and len(args) > at_tenant
                      else kwargs.get("tenant"))
            app = (args[at_app] if at_app is not None and len(args) > at_app
                   else kwargs.get("app"))
            authorize(caller, name, tenant, app)
            return function(*args, **kwargs)

        checked.operation = name  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return decorate
