"""The sub-account rules (R3-R14, R17, R21, R22, R24's modes) restated in plain Python
sets, for the isolation tests and the whole-service machine.

Written from ../shared/SUBACCOUNT_RULES.md, independently of the model file, the rule
grammar and the compiled index: a world is built by calling these methods next to the
API calls that make the same change, then both are asked the same questions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

OWNER = "owner"


@dataclass
class Tenant:
    step_up: bool = False
    stores: set[str] = field(default_factory=set)
    roles: dict[str, set[str]] = field(default_factory=dict)  # role -> {"area:action"}
    accounts: set[str] = field(default_factory=set)
    assigned: set[tuple[str, str]] = field(default_factory=set)  # (login, store)
    members: dict[str, set[str]] = field(default_factory=dict)  # login -> departments
    # (caller, role, store or None for tenant-wide); caller = ("user"|"dept", name)
    grants: set[tuple[tuple[str, str], str, str | None]] = field(default_factory=set)
    allows: set[tuple[tuple[str, str], str, str]] = field(default_factory=set)  # store, perm
    denies: set[tuple[tuple[str, str], str | None, str]] = field(default_factory=set)
    disabled: set[str] = field(default_factory=set)
    apps: set[str] = field(default_factory=set)  # installed (R21)
    # R22: the most one action may move, per role permission and per supplementary grant
    role_limits: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    allow_limits: dict[tuple[tuple[str, str], str, str], Decimal] = field(default_factory=dict)
    always_approved: set[str] = field(default_factory=set)  # R24: "always" permissions
    by_product: set[str] = field(default_factory=set)  # stores run by product (R17)
    operators: set[tuple[str, str, str]] = field(default_factory=set)  # store, product, login
    currencies: dict[str, str] = field(default_factory=dict)  # store -> not USD (R22)

    def allow(self, key: tuple[tuple[str, str], str, str], limit: str | None = None) -> None:
        """A supplementary grant (R7), given again as it is given now: up to `limit` (R22)
        or without one."""
        self.allows.add(key)
        if limit is None:
            self.allow_limits.pop(key, None)
        else:
            self.allow_limits[key] = Decimal(limit)


class Reference:
    def __init__(self, high_risk: set[str], per_product: frozenset[str] = frozenset()):
        self.high_risk = high_risk
        self.per_product = per_product  # the permissions a store run by product limits
        self.tenants: dict[str, Tenant] = {}

    def decide(self, tenant: str, subject: str, store: str, permission: str,
               second_factor: bool = False, amount: Decimal | None = None) -> bool:
        t = self.tenants.get(tenant)
        if t is None or store not in t.stores:
            return False  # another tenant's store, or no store at all
        app, dot, _ = permission.partition(".")
        if dot and app not in t.apps:
            return False  # R21: an app's permission where the app is not installed
        if t.step_up and permission in self.high_risk and not second_factor:
            return False  # R10, the owner included
        if subject == OWNER:
            return True  # R3
        if subject not in t.accounts or subject in t.disabled:
            return False  # R12
        principals = {("user", subject)} | {("dept", d) for d in t.members.get(subject, ())}
        for who, where, perm in t.denies:
            if who in principals and perm == permission and where in (None, store):
                return False  # R8: a deny wins
        if (subject, store) not in t.assigned:
            return False  # R14: only in assigned stores
        if permission in t.always_approved:
            return False  # R24: a sub-account's action needs an approval, always
        limits = [t.allow_limits.get((who, store, permission)) for who in principals
                  if (who, store, permission) in t.allows]  # R7
        limits += [t.role_limits.get(role, {}).get(permission)
                   for who, role, where in t.grants
                   if who in principals and where in (None, store)
                   and permission in t.roles.get(role, ())]  # R5, R6
        # R22: some grant without a limit, or with one at or above the amount
        return any(limit is None or (amount is not None and amount <= limit)
                   for limit in limits)

    def reason(self, tenant: str, subject: str, store: str, permission: str,
               second_factor: bool = False, amount: Decimal | None = None,
               product: str = "") -> str:
        """decide() as the service's reason code (R23), written from the README's order:
        the app not installed; a deny, disabled, not assigned, not the product's operator
        (final); no grant; a second factor; then the amount, the limit or an approval.
        `product`: the check is about one product (R17)."""
        t = self.tenants.get(tenant)
        if t is None:
            return "unknown_tenant"
        app, dot, _ = permission.partition(".")
        if dot and app not in t.apps:
            return "app_not_installed"
        in_tenant = store in t.stores
        step_up = t.step_up and permission in self.high_risk and not second_factor
        if subject == OWNER:
            if not in_tenant:
                return "not_assigned"
            return "step_up_required" if step_up else "granted"
        if subject not in t.accounts:
            return "not_assigned"
        principals = {("user", subject)} | {("dept", d) for d in t.members.get(subject, ())}
        for who, where, perm in t.denies:
            if who in principals and perm == permission \
                    and (where == store or (where is None and in_tenant)):
                return "explicit_deny"
        if subject in t.disabled and in_tenant:
            return "disabled"
        if (subject, store) not in t.assigned or not in_tenant:
            return "not_assigned"
        if product and store in t.by_product and permission in self.per_product \
                and (store, product, subject) not in t.operators:
            return "not_product_operator"  # R17: the owner operates every product
        limits = [t.allow_limits.get((who, store, permission)) for who in principals
                  if (who, store, permission) in t.allows]
        limits += [t.role_limits.get(role, {}).get(permission)
                   for who, role, where in t.grants
                   if who in principals and where in (None, store)
                   and permission in t.roles.get(role, ())]
        if any(limit is None for limit in limits):
            code = "granted"
        elif limits:
            code = "granted" if amount is not None and amount <= max(limits) \
                else "limit_exceeded" if amount is not None else "amount_required"
        else:
            return "no_grant"
        if code == "granted" and permission in t.always_approved:
            code = "approval_required"
        return "step_up_required" if step_up else code


# Issue 27: each policy write of the API is one named use case, and its ledger entry names
# it. (method, path under /v1/tenants/<t>/ as a pattern, the use case); first match wins.
USE_CASES = [
    ("POST", r"stores", "store.create"),
    ("PUT", r"stores/[^/]+/currency", "store.currency"),
    ("PUT", r"stores/[^/]+/mode", "store.mode"),
    ("PUT|DELETE", r"stores/[^/]+/products/[^/]+/operators/[^/]+", "store.product_operators"),
    ("DELETE", r"stores/[^/]+", "store.revoke"),
    ("POST", r"subaccounts/batch-stores", "store.batch_assign"),
    ("POST", r"subaccounts", "subaccount.create"),
    ("PATCH", r"subaccounts/[^/]+", "subaccount.profile"),
    ("PUT", r"subaccounts/[^/]+/status", "subaccount.status"),
    ("PUT", r"subaccounts/[^/]+/(stores|default-store)", "subaccount.stores"),
    ("POST", r"roles", "role.create"),
    ("PUT", r"roles/[^/]+", "role.permissions"),
    ("DELETE", r"roles/[^/]+", "role.delete"),
    ("POST", r"grants", "grant.role"),
    ("POST", r"grants/revoke", "grant.revoke_role"),
    ("POST", r"(permissions|denies)", "grant.direct"),
    ("POST", r"(permissions|denies)/revoke", "grant.revoke_direct"),
    ("POST", r"departments", "department.create"),
    ("PATCH", r"departments/[^/]+", "department.rename"),
    ("PUT|DELETE", r"departments/[^/]+/members/[^/]+", "subaccount.departments"),
    ("PATCH", r"settings", "tenant.settings"),
    ("PUT", r"approval-modes/[^/]+", "approval.mode"),
    ("POST", r"import", "policy.import"),
    ("PUT", r"apps/[^/]+", "app.install"),
    ("DELETE", r"apps/[^/]+", "app.uninstall"),
]


def use_case(method: str, path: str) -> str | None:
    """The named use case a write of the API at `path` (under the tenant, without its query)
    is, or None for a write that is not one of the owner's policy edits."""
    import re

    path = path.partition("?")[0]
    for methods, pattern, name in USE_CASES:
        if re.fullmatch(methods, method) and re.fullmatch(pattern, path):
            return name
    return None
