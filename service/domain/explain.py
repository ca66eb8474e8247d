"""Why a decision came out as it did: the model's clauses, read from a tenant's index,
named in the seller's words and in the Casbin rules that matched.

`explain` answers every clause that matches, not just the first: every deny that applies
and every path that would allow, so an owner sees both "denied by X" and what X overrode.
Its `allowed` is the decision itself; tests hold it equal to TenantIndex.decide (and so
to pycasbin) on random policies.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from . import rules as R
from .index import TenantIndex
from .rules import Rule


@dataclass
class Path:
    """One way a clause of the model matched."""

    effect: str  # "allow" or "deny"
    kind: str  # owner, role, direct, disabled, step-up, by-product, deny
    principal: str | None  # "sub-account alice", "department care", None for tenant rules
    scope: str | None  # "store amazon-us", "all stores"
    role: str | None
    rules: list[str]  # the matching Casbin rules, as in the export

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Explanation:
    allowed: bool
    reason: str
    denies: list[Path] = field(default_factory=list)
    allows: list[Path] = field(default_factory=list)  # overridden when a deny applies

    def as_dict(self) -> dict:
        return {"allowed": self.allowed, "reason": self.reason,
                "denies": [p.as_dict() for p in self.denies],
                "allows": [p.as_dict() for p in self.allows]}


def _who(value: str) -> str:
    kind, _, name = value.split(":", 2)
    return f"{'sub-account' if kind == 'user' else 'department'} {name}"


def _scope(index: TenantIndex, scope: str) -> str:
    return "all stores" if scope == index.tenant else f"store {scope.split('/', 1)[1]}"


def _role(value: str) -> str:
    return value.split(":", 2)[2]


def explain(index: TenantIndex | None, tenant: str, subject: str, store_name: str,
            area: str, action: str, second_factor: bool, product: str) -> Explanation:
    if index is None:
        return Explanation(False, f"no tenant {tenant!r}")
    app, dot, _ = area.partition(".")
    if dot and app not in index.apps:  # (as Decider: before the model is asked)
        return Explanation(False, f"denied: app {app!r} is not installed in this tenant")
    user, store = R.user(tenant, subject), R.store(tenant, store_name)
    in_tenant = store in index.stores
    principals = (user, *sorted(index.rules_of(user).departments))
    here = (store, area, action)
    denies: list[Path] = []
    for who in principals:
        mine = index.rules_of(who).denies
        for scope in (store, tenant) if in_tenant else (store,):
            if (scope, area, action) in mine:
                denies.append(Path("deny", "deny", _who(who), _scope(index, scope), None,
                                   [Rule("p", (who, scope, area, action, "deny")).csv()]))
        if in_tenant and index.rules_of(who).disabled:
            denies.append(Path("deny", "disabled", _who(who), "all stores", None,
                               [Rule("p", (who, tenant, R.ANY, R.ANY, "deny")).csv()]))
    if in_tenant and not second_factor and (area, action) in index.step_up:
        denies.append(Path("deny", "step-up", None, "all stores", None, [
            Rule("p", (R.STEP_UP, tenant, area, action, "deny")).csv()]))
    if product and here in index.by_product \
            and (user, f"{store}~product/{product}") not in index.operators \
            and (user, f"{store}~products") not in index.operators:
        denies.append(Path("deny", "by-product", None, _scope(index, store), None, [
            Rule("p", (R.BY_PRODUCT, store, area, action, "deny")).csv()]))

    assigned = store in index.rules_of(user).stores
    allows: list[Path] = []
    if assigned:
        assignment = Rule("g", (user, store)).csv()
        for who in principals:
            membership = [] if who == user else [Rule("g", (user, who)).csv()]
            mine = index.rules_of(who).allows
            for scope in (store, tenant) if in_tenant else (store,):
                if (scope, area, action) in mine:
                    allows.append(Path("allow", "direct", _who(who), _scope(index, scope), None,
                                       [assignment, *membership, Rule("p", (
                                           who, scope, area, action, "allow")).csv()]))
            if not in_tenant:
                continue
            if index.rules_of(who).owner:
                allows.append(Path("allow", "owner", _who(who), "all stores", None, [
                    assignment, Rule("p", (who, tenant, R.ANY, R.ANY, "allow")).csv()]))
            for role, scope in sorted(index.rules_of(who).grants):
                if (scope == store or scope == tenant) and \
                        (area, action) in index.role_permissions.get(role, ()):
                    allows.append(Path("allow", "role", _who(who), _scope(index, scope),
                                       _role(role), [
                        assignment, *membership, Rule("g", (who, R.scoped_role(role, scope))).csv(),
                        Rule("p", (role, tenant, area, action, "allow")).csv()]))

    permission = f"{area}:{action}"
    if denies:
        first = denies[0]
        reason = {"deny": f"denied: an explicit deny of {permission} for {first.principal} "
                          f"in {first.scope}",
                  "disabled": f"denied: {first.principal} is disabled",
                  "step-up": f"denied: {permission} needs a second factor in this tenant",
                  "by-product": f"denied: store {store_name} is run by product and "
                                f"{subject} is not an operator of product {product}",
                  }[first.kind]
        return Explanation(False, reason, denies, allows)
    if not assigned:
        return Explanation(False, f"denied: {subject} is not assigned to store {store_name}"
                           if in_tenant else
                           f"denied: {store_name!r} is not a store of this tenant",
                           denies, allows)
    if not allows:
        return Explanation(False, f"denied: nothing grants {permission} to {subject} in "
                                  f"store {store_name}", denies, allows)
    first = allows[0]
    via = f"role {first.role} held by" if first.kind == "role" else (
        "the owner's rule for" if first.kind == "owner" else "a direct grant to")
    return Explanation(True, f"allowed: {via} {first.principal} in {first.scope}",
                       denies, allows)
