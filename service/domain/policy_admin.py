"""Policy edits in the seller's vocabulary, as plain functions over a TenantPolicy.

Each function validates its inputs, refuses the whole edit on the first problem (listing
every offending item where there can be several), and otherwise adds/removes rules. The
caller commits the resulting difference as one revision, or nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from . import amounts, catalogue, clock
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


DEFAULT_CURRENCY = "USD"
CURRENCY = re.compile(r"[A-Z]{3}")


def create_store(policy: TenantPolicy, store: str, currency: str | None = None) -> None:
    R.identifier(store, "store")
    if store == ALL_STORES:
        raise InvalidInput(f"{ALL_STORES!r} is reserved", {"store": ["reserved"]})
    if store in policy.stores():
        raise Conflict(f"store {store!r} exists", {"store": ["already exists"]})
    domain = R.store(policy.tenant, store)
    policy.add(Rule("g2", (domain, policy.tenant)))
    policy.add(Rule("g", (R.owner(policy.tenant), domain)))
    if currency is not None:
        set_currency(policy, store, currency)


def set_currency(policy: TenantPolicy, store: str, currency: str) -> None:
    """The currency of a store's amounts and limits (R22; ISO 4217)."""
    require_stores(policy, [store], "store")
    if not isinstance(currency, str) or not CURRENCY.fullmatch(currency):
        raise InvalidInput("currency is three capital letters (ISO 4217)",
                           {"currency": ["three capital letters (ISO 4217)"]})
    if currency == DEFAULT_CURRENCY:
        policy.directory.currencies.pop(store, None)
    else:
        policy.directory.currencies[store] = currency


def currency(policy: TenantPolicy, store: str) -> str:
    return policy.directory.currencies.get(store, DEFAULT_CURRENCY)


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


def _role_rule(tenant: str, role: str, perm: catalogue.Permission, limit: str = "") -> Rule:
    action = amounts.limited(perm.action, limit) if limit else perm.action
    return Rule("p", (R.role(tenant, role), tenant, perm.area, action, "allow"))


def read_limits(permissions: Sequence[catalogue.Permission], limits: object,
                field: str = "limits") -> dict[str, str]:
    """A role's limits (R22): permission name -> amount, each a permission of
    `permissions` that moves money; as fixed-width amounts."""
    if not isinstance(limits, dict):
        raise InvalidInput(f"{field} is an object of permission -> amount",
                           {field: ["an object of permission -> amount"]})
    names = {p.name: p for p in permissions}
    out = {}
    for name, value in limits.items():
        where = f"{field}.{name}"
        perm = names.get(name)
        if perm is None:
            raise InvalidInput(f"{where}: not one of the permissions given",
                               {where: ["not one of the permissions given"]})
        out[name] = limit(perm, value, where)
    return out


def limit(perm: catalogue.Permission, value: object, field: str = "limit") -> str:
    """A limit on a grant of `perm`: only on a permission that moves money (R22)."""
    if not perm.amount:
        raise InvalidInput(f"{perm.name} moves no money and takes no limit",
                           {field: ["this permission takes no limit (R22)"]})
    return amounts.parse(value, field)


def create_role(policy: TenantPolicy, role: str, permissions: Sequence[str],
                limits: dict | None = None) -> None:
    """A role template; `limits`: permission name -> the most each action may move (R22)."""
    R.identifier(role, "role")
    if role in policy.roles():
        raise Conflict(f"role {role!r} exists", {"role": ["already exists"]})
    perms = _grantable(policy, permissions)
    limited = read_limits(perms, limits if limits is not None else {})
    for perm in perms:
        policy.add(_role_rule(policy.tenant, role, perm, limited.get(perm.name, "")))


def set_role_permissions(policy: TenantPolicy, role: str, permissions: Sequence[str],
                         limits: dict | None = None) -> None:
    """Make the role's permissions exactly `permissions` (and, when given, its limits
    exactly `limits`; when not, each permission kept keeps its limit: leaving limits out
    never lifts one), in every store it is held."""
    current = _require_role(policy, role)
    held = policy.role_rules()[role]
    wanted = _grantable(policy, permissions, current)
    limited = read_limits(wanted, limits) if limits is not None else {
        name: limit for name, limit in policy.role_limits().get(role, {}).items()}
    keep = {p.name for p in wanted}
    for name in current:
        rule = held[name]
        if name not in keep or rule.values[3] != _role_rule(
                policy.tenant, role, policy.catalogue.permission(name),
                limited.get(name, "")).values[3]:
            policy.remove(rule)
    for perm in wanted:
        policy.add(_role_rule(policy.tenant, role, perm, limited.get(perm.name, "")))


def role_holders(policy: TenantPolicy, role: str) -> list[Rule]:
    prefix = R.role(policy.tenant, role) + "@"
    return [p.rule for p in policy.of_kind(Kind.GRANT) if p.rule.values[1].startswith(prefix)]


def delete_role(policy: TenantPolicy, role: str) -> None:
    _require_role(policy, role)
    holders = role_holders(policy, role)
    if holders:
        raise Conflict(
            f"role {role!r} is still granted {len(holders)} time(s); revoke it first",
            {"role": [f"granted: {h.csv()}" for h in holders[:20]]},
        )
    for rule in policy.role_rules()[role].values():
        policy.remove(rule)


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
    if expires_at is not None and expires_at <= clock.utcnow():
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
                 effect: str, limit_value: object = None) -> Rule:
    if effect == "allow":
        perm = policy.catalogue.grantable(permission)
        if store == ALL_STORES:
            raise InvalidInput("a supplementary grant names one store",
                               {"store": ["one store, not 'all'"]})
    else:
        perm = policy.catalogue.permission(permission)
        if limit_value is not None:
            raise InvalidInput("a deny takes no limit", {"limit": ["only grants have limits"]})
    scope = policy.tenant if store == ALL_STORES else _scopes(policy, [store])[0]
    action = perm.action if limit_value is None else amounts.limited(
        perm.action, limit(perm, limit_value))
    return Rule("p", (who.value(policy.tenant), scope, perm.area, action, effect))


def _held_direct(policy: TenantPolicy, rule: Rule) -> Rule | None:
    """The stored grant of the same permission as `rule` in its scope, with any limit."""
    who, scope, area, action, effect = rule.values
    for p in policy.of_kind(Kind.DIRECT):
        v = p.rule.values
        if v[0] == who and v[1] == scope and v[2] == area and v[4] == effect \
                and amounts.split(v[3])[0] == action:
            return p.rule
    return None


def add_direct(policy: TenantPolicy, who: Grantee, store: str, permission: str,
               effect: str, expires_at: datetime | None = None,
               limit_value: object = None) -> None:
    """A supplementary permission (allow, one store; with `expires_at`, until then; with
    `limit_value`, up to that amount: R22) or an explicit deny (a store or all). A deny
    never expires: a deny that lapsed by itself would widen access with nobody deciding
    it. A grant given again replaces the one held (its limit and expiry)."""
    require_grantee(policy, who)
    if expires_at is not None and effect != "allow":
        raise InvalidInput("a deny cannot expire", {"expires_at": ["only grants expire"]})
    _require_future(expires_at)
    rule = _direct_rule(policy, who, store, permission, effect, limit_value)
    held = _held_direct(policy, _direct_rule(policy, who, store, permission, effect))
    if held is not None and held != rule:
        policy.remove(held)
    policy.add(rule)
    policy.set_expiry(rule, expires_at)


def remove_direct(policy: TenantPolicy, who: Grantee, store: str, permission: str,
                  effect: str) -> None:
    held = _held_direct(policy, _direct_rule(policy, who, store, permission, effect))
    if held is None or not policy.remove(held):
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
        who, scope, area, act, eft = p.rule.values
        action, limited = amounts.split(act)
        direct.append({
            **_who(who),
            "store": ALL_STORES if scope == policy.tenant else scope.split("/", 1)[1],
            "permission": f"{area}:{action}",
            "effect": eft,
            **({"limit": amounts.shown(limited)} if limited else {}),
        })
    key = _sort_key
    return {
        "stores": sorted(policy.stores()),
        "currencies": {store: currency(policy, store) for store in sorted(policy.stores())},
        "roles": {name: sorted(perms) for name, perms in sorted(policy.roles().items())},
        "limits": describe_limits(policy),
        "grants": sorted(grants, key=key),
        "permissions": sorted([d for d in direct if d["effect"] == "allow"], key=key),
        "denies": sorted([d for d in direct if d["effect"] == "deny"], key=key),
    }


def describe_limits(policy: TenantPolicy) -> dict[str, dict[str, str]]:
    """role -> permission -> its limit as people write it (R22)."""
    return {role: {name: amounts.shown(v) for name, v in sorted(held.items())}
            for role, held in sorted(policy.role_limits().items())}


def _who(value: str) -> dict:
    kind, _, name = value.split(":", 2)
    return {"subject": name} if kind == "user" else {"department": name}


def _sort_key(item: dict) -> str:
    return repr(sorted(item.items()))
