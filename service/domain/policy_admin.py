"""Policy edits in the seller's vocabulary, as plain functions over a TenantPolicy.

Each function validates its inputs, refuses the whole edit on the first problem (listing
every offending item where there can be several), and otherwise adds/removes rules. The
caller commits the resulting difference as one revision, or nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from . import catalogue
from . import rules as R
from .accounts import Account
from .errors import Conflict, InvalidInput, NotFound
from .rules import Kind, Rule
from .tenant_policy import TenantPolicy

ALL_STORES = "all"


@dataclass(frozen=True)
class Grantee:
    """Who receives a grant: a sub-account (`user`) or a department (`dept`)."""

    kind: str
    name: str

    def value(self, tenant: str) -> str:
        if self.kind == "user":
            return R.user(tenant, self.name)
        return R.department(tenant, self.name)

    def describe(self) -> dict:
        return {"subject": self.name} if self.kind == "user" else {"department": self.name}


def grantee(subject: str | None, department: str | None) -> Grantee:
    """Exactly one of a sub-account login or a department name."""
    if (subject is None) == (department is None):
        raise InvalidInput(
            "give exactly one of subject or department",
            {"subject": ["exactly one of subject, department"]},
        )
    if subject is not None:
        return Grantee("user", R.login(subject, "subject"))
    return Grantee("dept", R.identifier(department, "department"))


def require_account(policy: TenantPolicy, login: str, field: str = "subject") -> Account:
    R.login(login, field)
    account = policy.directory.accounts.get(login)
    if account is None:
        raise NotFound(f"no such sub-account {login!r}", {field: ["not found"]})
    return account


def require_department(policy: TenantPolicy, department: str,
                       field: str = "department") -> None:
    R.identifier(department, field)
    if department not in policy.directory.departments:
        raise NotFound(f"no such department {department!r}", {field: ["not found"]})


def require_grantee(policy: TenantPolicy, who: Grantee) -> None:
    if who.kind == "user":
        require_account(policy, who.name)
    else:
        require_department(policy, who.name)


# -- tenants and stores --------------------------------------------------------------------
def create_tenant(policy: TenantPolicy) -> None:
    """The owner's rule (R3): everything, in every store of its own tenant."""
    policy.add(Rule("p", (R.owner(policy.tenant), policy.tenant, R.ANY, R.ANY, "allow")))


def create_store(policy: TenantPolicy, store: str) -> None:
    R.identifier(store, "store")
    if store == ALL_STORES:
        raise InvalidInput(f"{ALL_STORES!r} is reserved", {"store": ["reserved"]})
    if store in policy.stores():
        raise Conflict(f"store {store!r} exists", {"store": ["already exists"]})
    domain = R.store(policy.tenant, store)
    policy.add(Rule("g2", (domain, policy.tenant)))
    policy.add(Rule("g", (R.owner(policy.tenant), domain)))


def require_stores(policy: TenantPolicy, stores: Sequence[str], field: str = "stores") -> list[str]:
    """Validate a list of the tenant's store ids; unknown ones are all named in one 404."""
    if not isinstance(stores, list | tuple) or not stores:
        raise InvalidInput(f"{field} must be a non-empty list", {field: ["non-empty list"]})
    for i, store in enumerate(stores):
        R.identifier(store, f"{field}[{i}]")
    known = policy.stores()
    missing = sorted({s for s in stores if s not in known})
    if missing:
        raise NotFound(f"no such store: {', '.join(missing)}", {field: missing})
    return list(dict.fromkeys(stores))


def _scopes(policy: TenantPolicy, stores: Sequence[str] | str) -> list[str]:
    if stores == ALL_STORES:
        return [policy.tenant]
    return [R.store(policy.tenant, s) for s in require_stores(policy, stores)]  # type: ignore[arg-type]


# -- role templates (R6) -------------------------------------------------------------------
def _require_role(policy: TenantPolicy, role: str) -> set[str]:
    R.identifier(role, "role")
    perms = policy.roles().get(role)
    if perms is None:
        raise NotFound(f"no such role {role!r}", {"role": ["not found"]})
    return perms


def _grantable(policy: TenantPolicy, permissions: Iterable[str],
               held: frozenset[str] | set[str] = frozenset()) -> list[catalogue.Permission]:
    """The permissions, each grantable; one a role already `held` may stay though its app
    deprecated it since (deprecated: no longer granted anew)."""
    if not isinstance(permissions, list | tuple) or not permissions:
        raise InvalidInput("permissions must be a non-empty list",
                           {"permissions": ["non-empty list"]})
    known = policy.catalogue
    return [known.permission(p, f"permissions[{i}]") if p in held
            else known.grantable(p, f"permissions[{i}]") for i, p in enumerate(permissions)]


def _role_rule(tenant: str, role: str, perm: catalogue.Permission) -> Rule:
    return Rule("p", (R.role(tenant, role), tenant, perm.area, perm.action, "allow"))


def _named_role_rule(tenant: str, role: str, name: str) -> Rule:
    """The rule of a permission a role holds, by its name (it may have left the catalogue:
    a deprecated or renamed app permission is still removable)."""
    area, _, action = name.partition(":")
    return Rule("p", (R.role(tenant, role), tenant, area, action, "allow"))


def create_role(policy: TenantPolicy, role: str, permissions: Sequence[str]) -> None:
    R.identifier(role, "role")
    if role in policy.roles():
        raise Conflict(f"role {role!r} exists", {"role": ["already exists"]})
    for perm in _grantable(policy, permissions):
        policy.add(_role_rule(policy.tenant, role, perm))


def set_role_permissions(policy: TenantPolicy, role: str, permissions: Sequence[str]) -> None:
    """Make the role's permissions exactly `permissions`, in every store it is held."""
    current = _require_role(policy, role)
    wanted = _grantable(policy, permissions, current)
    for perm in wanted:
        policy.add(_role_rule(policy.tenant, role, perm))
    keep = {p.name for p in wanted}
    for name in current - keep:
        policy.remove(_named_role_rule(policy.tenant, role, name))


def role_holders(policy: TenantPolicy, role: str) -> list[Rule]:
    prefix = R.role(policy.tenant, role) + "@"
    return [p.rule for p in policy.of_kind(Kind.GRANT) if p.rule.values[1].startswith(prefix)]


def delete_role(policy: TenantPolicy, role: str) -> None:
    perms = _require_role(policy, role)
    holders = role_holders(policy, role)
    if holders:
        raise Conflict(
            f"role {role!r} is still granted {len(holders)} time(s); revoke it first",
            {"role": [f"granted: {h.csv()}" for h in holders[:20]]},
        )
    for name in perms:
        policy.remove(_named_role_rule(policy.tenant, role, name))


# -- grants (R5, R6) -----------------------------------------------------------------------
def _grant_rules(policy: TenantPolicy, who: Grantee, role: str,
                 stores: Sequence[str] | str) -> list[Rule]:
    _require_role(policy, role)
    role_value = R.role(policy.tenant, role)
    return [Rule("g", (who.value(policy.tenant), R.scoped_role(role_value, scope)))
            for scope in _scopes(policy, stores)]


def grant_role(policy: TenantPolicy, who: Grantee, role: str,
               stores: Sequence[str] | str, expires_at: datetime | None = None) -> None:
    """Grant a role; with `expires_at`, until then (see usecases/expiry.py)."""
    require_grantee(policy, who)
    _require_future(expires_at)
    for rule in _grant_rules(policy, who, role, stores):
        policy.add(rule)
        policy.set_expiry(rule, expires_at)


def _require_future(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise InvalidInput("expires_at is in the past", {"expires_at": ["must be in the future"]})


def expiring(policy: TenantPolicy) -> list[dict]:
    """The tenant's time-boxed grants, soonest first."""
    return [{"rule": rule, "expires_at": at} for rule, at in
            sorted(policy.directory.expiries.items(), key=lambda item: (item[1], item[0]))]


def revoke_role(policy: TenantPolicy, who: Grantee, role: str,
                stores: Sequence[str] | str) -> None:
    wanted = _grant_rules(policy, who, role, stores)
    missing = [r for r in wanted if r not in policy]
    if missing:
        raise NotFound("no such grant", {"stores": [r.values[1].split("@", 1)[1]
                                                     for r in missing]})
    for rule in wanted:
        policy.remove(rule)


# -- supplementary grants (R7) and denies (R8) ---------------------------------------------
def _direct_rule(policy: TenantPolicy, who: Grantee, store: str, permission: str,
                 effect: str) -> Rule:
    if effect == "allow":
        perm = policy.catalogue.grantable(permission)
        if store == ALL_STORES:
            raise InvalidInput("a supplementary grant names one store",
                               {"store": ["one store, not 'all'"]})
    else:
        perm = policy.catalogue.permission(permission)
    scope = policy.tenant if store == ALL_STORES else _scopes(policy, [store])[0]
    return Rule("p", (who.value(policy.tenant), scope, perm.area, perm.action, effect))


def add_direct(policy: TenantPolicy, who: Grantee, store: str, permission: str,
               effect: str, expires_at: datetime | None = None) -> None:
    """A supplementary permission (allow, one store; with `expires_at`, until then) or an
    explicit deny (a store or all). A deny never expires: a deny that lapsed by itself
    would widen access with nobody deciding it."""
    require_grantee(policy, who)
    if expires_at is not None and effect != "allow":
        raise InvalidInput("a deny cannot expire", {"expires_at": ["only grants expire"]})
    _require_future(expires_at)
    rule = _direct_rule(policy, who, store, permission, effect)
    policy.add(rule)
    policy.set_expiry(rule, expires_at)


def remove_direct(policy: TenantPolicy, who: Grantee, store: str, permission: str,
                  effect: str) -> None:
    rule = _direct_rule(policy, who, store, permission, effect)
    if not policy.remove(rule):
        raise NotFound(f"no such {'grant' if effect == 'allow' else 'deny'}",
                       {"permission": ["not found"]})


# -- sub-accounts: stores, departments, status (R12, R14) ----------------------------------
def assigned_stores(policy: TenantPolicy, login: str) -> list[str]:
    """A sub-account's stores, earliest assigned first."""
    value = R.user(policy.tenant, login)
    return [p.rule.values[1].split("/", 1)[1] for p in policy.of_kind(Kind.ASSIGNMENT)
            if p.rule.values[0] == value]


def add_member(policy: TenantPolicy, department: str, login: str) -> None:
    require_department(policy, department)
    require_account(policy, login)
    policy.add(Rule("g", (R.user(policy.tenant, login), R.department(policy.tenant, department))))


def remove_member(policy: TenantPolicy, department: str, login: str) -> None:
    R.identifier(department, "department")
    R.login(login, "subject")
    rule = Rule("g", (R.user(policy.tenant, login), R.department(policy.tenant, department)))
    if not policy.remove(rule):
        raise NotFound("not a member", {"subject": ["not a member of this department"]})


def disabled_rule(tenant: str, login: str) -> Rule:
    return Rule("p", (R.user(tenant, login), tenant, R.ANY, R.ANY, "deny"))


def set_disabled(policy: TenantPolicy, login: str, disabled: bool) -> None:
    """Disable (deny everything, grants kept) or re-enable a sub-account (R12)."""
    require_account(policy, login)
    rule = disabled_rule(policy.tenant, login)
    if disabled:
        policy.add(rule)
    else:
        policy.remove(rule)


def describe(policy: TenantPolicy) -> dict:
    """A readable summary of the tenant's policy for list endpoints."""
    grants = []
    for p in policy.of_kind(Kind.GRANT):
        who, held = p.rule.values
        role_value, _, scope = held.partition("@")
        grants.append({
            **_who(who),
            "role": role_value.split(":", 2)[2],
            "stores": ALL_STORES if scope == policy.tenant else [scope.split("/", 1)[1]],
        })
    direct = []
    for p in policy.of_kind(Kind.DIRECT):
        who, scope, area, action, eft = p.rule.values
        direct.append({
            **_who(who),
            "store": ALL_STORES if scope == policy.tenant else scope.split("/", 1)[1],
            "permission": f"{area}:{action}",
            "effect": eft,
        })
    key = _sort_key
    return {
        "stores": sorted(policy.stores()),
        "roles": {name: sorted(perms) for name, perms in sorted(policy.roles().items())},
        "grants": sorted(grants, key=key),
        "permissions": sorted([d for d in direct if d["effect"] == "allow"], key=key),
        "denies": sorted([d for d in direct if d["effect"] == "deny"], key=key),
    }


def _who(value: str) -> dict:
    kind, _, name = value.split(":", 2)
    return {"subject": name} if kind == "user" else {"department": name}


def _sort_key(item: dict) -> str:
    return repr(sorted(item.items()))
