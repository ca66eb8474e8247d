"""Sub-accounts, departments and tenant settings: the facts that are not Casbin rules.

What a sub-account may do, where it may act and whether it is disabled live in the rules
(see rules.py); its profile and default store live here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

DEFAULT_MAX_SUB_ACCOUNTS = 99
LANGUAGES = ("en", "zh-CN")  # the console's languages; the first is the default

# Built-in role templates every new tenant starts with (R6); tenants may edit them.
BUILTIN_ROLES: dict[str, tuple[str, ...]] = {
    "customer-service": ("orders:view", "refunds:view", "chat:view", "chat:reply",
                         "products:view"),
    "operator": ("products:view", "products:create", "products:edit", "prices:view",
                 "prices:change", "inventory:view", "inventory:adjust", "orders:view",
                 "reports:view"),
    "marketing": ("coupons:view", "coupons:manage", "marketing:view", "marketing:manage",
                  "products:view", "reports:view"),
    "finance": ("finance:view", "finance:withdraw", "refunds:view", "refunds:approve",
                "reports:view", "reports:export", "billing:view"),
    "warehouse": ("orders:view", "orders:ship", "inventory:view", "inventory:adjust",
                  "logistics:view"),
    "designer": ("products:view", "products:edit"),
    "store-manager": ("products:view", "products:create", "products:edit", "products:delete",
                      "prices:view", "prices:change", "orders:view", "orders:edit",
                      "orders:cancel", "refunds:view", "refunds:approve", "settings:view",
                      "settings:edit", "reports:view", "staff:view"),
}


@dataclass
class Account:
    """A sub-account's profile (R4). Never deleted, only disabled (R12)."""

    login: str
    display_name: str = ""
    email: str = ""
    phone: str = ""
    note: str = ""
    default_store: str | None = None


@dataclass
class TenantSettings:
    max_sub_accounts: int = DEFAULT_MAX_SUB_ACCOUNTS
    language: str = LANGUAGES[0]


@dataclass
class Approval:
    """A request for a second person's approval of one action (R24): what was asked, by
    whom, and what became of it. Times are ISO 8601 UTC text (tenant_policy.expiry_text);
    "" where not yet. `amount` is at the model's width, or "" for an action without one."""

    id: str
    subject: str
    store: str
    permission: str
    amount: str
    product: str
    note: str
    status: str  # pending, approved, rejected, used (expired: see approvals.state)
    requested_by: str
    requested_at: str
    expires_at: str
    decided_by: str = ""
    decided_at: str = ""
    decision_note: str = ""
    used_at: str = ""
    used_by: str = ""


@dataclass
class Directory:
    """A tenant's sub-accounts, departments (id -> display name), settings, the expiry
    of its time-boxed grants (rule as CSV -> ISO 8601 UTC time), its stores' currencies
    (store id -> ISO 4217 code, R22), its open approval requests (id -> Approval:
    pending or approved and not used, R24; a write that closes one keeps it here) and the
    catalogue version it is at of each app it installed (app -> version, R21)."""

    accounts: dict[str, Account] = field(default_factory=dict)
    departments: dict[str, str] = field(default_factory=dict)
    settings: TenantSettings = field(default_factory=TenantSettings)
    expiries: dict[str, str] = field(default_factory=dict)
    currencies: dict[str, str] = field(default_factory=dict)
    approvals: dict[str, Approval] = field(default_factory=dict)
    app_versions: dict[str, int] = field(default_factory=dict)

    def copy(self) -> Directory:
        """An independent copy (accounts, settings and approvals are edited in place).
        Every write makes one: a field-for-field copy of each record, not
        dataclasses.replace, which costs ten times as much (its __init__ and checks)."""
        return Directory({k: _copy(a) for k, a in self.accounts.items()},
                         dict(self.departments), _copy(self.settings), dict(self.expiries),
                         dict(self.currencies),
                         {k: _copy(a) for k, a in self.approvals.items()},
                         dict(self.app_versions))


def _copy(record: T) -> T:
    """A shallow copy of a flat dataclass record (its fields are strings and numbers)."""
    copied = object.__new__(type(record))
    copied.__dict__.update(record.__dict__)
    return copied
