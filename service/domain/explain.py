"""Why a decision came out as it did: the model's clauses, read from a tenant's index,
named in the seller's words and in the Casbin rules that matched.

`explain` answers every clause that matches, not just the first: every deny that applies
and every path that would allow, so an owner sees both "denied by X" and what X overrode.
Its `allowed` and `reason` are the decision itself (TenantIndex.answer: the code /check
gives); tests hold `allowed` equal to pycasbin on random policies. `message` says it in
words.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from . import amounts
from . import reasons as W
from . import rules as R
from .index import TenantIndex
from .rules import Rule


@dataclass
class Path:
    """One way a clause of the model matched."""

    effect: str  # "allow" or "deny"
    kind: str  # owner, role, direct, approval, disabled, step-up, by-product, deny,
    #            approval-required
    principal: str | None  # "sub-account alice", "department care", None for tenant rules
    scope: str | None  # "store amazon-us", "all stores"
    role: str | None
    rules: list[str]  # the matching Casbin rules, as in the export
    limit: str | None = None  # an allow up to an amount (R22), as people write it

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Explanation:
    allowed: bool
    message: str
    denies: list[Path] = field(default_factory=list)
    allows: list[Path] = field(default_factory=list)  # overridden when a deny applies
    reason: str = W.ERROR  # the code /check answers (domain/reasons.py)

    def as_dict(self) -> dict:
        return {"allowed": self.allowed, "reason": self.reason, "message": self.message,
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
            area: str, action: str, second_factor: bool, product: str, amount: str = "",
            approval: str = "") -> Explanation:
    if index is None:
        return Explanation(False, f"no tenant {tenant!r}", reason=W.UNKNOWN_TENANT)
    user, store = R.user(tenant, subject), R.store(tenant, store_name)
    approval_value = R.approval(tenant, approval) if approval else ""
    code = index.answer(user, store, area, action, second_factor, product, amount,
                        approval_value)
    if code == W.APP_NOT_INSTALLED:
        return Explanation(False, f"denied: app {area.partition('.')[0]!r} is not installed "
                                  "in this tenant", reason=code)
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
    if in_tenant and not approval and (area, action) in index.approval_always \
            and user != index.owner:
        denies.append(Path("deny", "approval-required", None, "all stores", None, [
            Rule("p", (R.APPROVAL_ALWAYS, tenant, area, action, "deny")).csv()]))

    assigned = store in index.rules_of(user).stores
    # The actions a rule may hold this permission as: plainly, or up to a limit at or
    # above the amount (R22).
    acts = [(action, None)] + [
        (amounts.limited(action, limit), amounts.shown(limit))
        for limit in sorted(index.limits.get((area, action), ()), reverse=True)
        if amount and limit >= amount]
    allows: list[Path] = []
    if assigned and approval:
        if index.approved(user, store, area, action, product, amount, approval_value):
            where, _, act = index.approvals[approval_value]
            limit = amounts.split(act)[1]
            allows.append(Path("allow", "approval", _who(user), _scope(index, store), None, [
                Rule("p", (approval_value, where, area, act, "allow")).csv(),
                Rule("g2", (approval_value, user)).csv()], amounts.shown(limit) if limit
                else None))
    elif assigned:
        # The allow paths as the decision's own walk finds them (TenantIndex.any_allow),
        # once for each action a rule may hold the permission as.
        assignment = Rule("g", (user, store)).csv()
        chain = [index.rules_of(who) for who in principals]
        for act, shown in acts:
            def found(kind: str, place: int, scope: str, role: str | None,
                      act: str = act, shown: str | None = shown) -> None:
                who = principals[place]
                membership = [] if who == user else [Rule("g", (user, who)).csv()]
                if kind == "direct":
                    allows.append(Path("allow", "direct", _who(who), _scope(index, scope), None,
                                       [assignment, *membership,
                                        Rule("p", (who, scope, area, act, "allow")).csv()],
                                       shown))
                elif kind == "owner" and shown is None:  # (its rule holds every amount)
                    rule = R.owner_app(tenant, area.partition(".")[0]) if "." in area \
                        else Rule("p", (who, tenant, R.ANY, R.ANY, "allow"))
                    allows.append(Path("allow", "owner", _who(who), "all stores", None,
                                       [assignment, rule.csv()]))
                elif kind == "role":
                    allows.append(Path("allow", "role", _who(who), _scope(index, scope),
                                       _role(role), [
                        assignment, *membership,
                        Rule("g", (who, R.scoped_role(role, scope))).csv(),
                        Rule("p", (role, tenant, area, act, "allow")).csv()], shown))

            index.any_allow(chain, in_tenant, (store, area, act), (tenant, area, act),
                            (area, act), found)
    return Explanation(code is W.GRANTED, _message(code, denies, allows, subject, store_name,
                                                   area, action, product, amount, in_tenant),
                       denies, allows, code)


def _message(code: str, denies: list[Path], allows: list[Path], subject: str,
             store_name: str, area: str, action: str, product: str, amount: str,
             in_tenant: bool) -> str:
    permission = f"{area}:{action}"
    if code == W.GRANTED:
        first = allows[0]
        via = {"role": f"role {first.role} held by", "owner": "the owner's rule for",
               "approval": "the approved request of"}.get(first.kind, "a direct grant to")
        return f"allowed: {via} {first.principal} in {first.scope}"
    kinds = {"deny": "explicit_deny", "disabled": "disabled", "step-up": "step_up_required",
             "by-product": "not_product_operator", "approval-required": "approval_required"}
    first = next((p for p in denies if kinds[p.kind] == code), None)
    return {
        W.EXPLICIT_DENY: f"denied: an explicit deny of {permission} for "
                         f"{first.principal if first else ''} in {first.scope if first else ''}",
        W.DISABLED: f"denied: {first.principal if first else subject} is disabled",
        W.STEP_UP_REQUIRED: f"denied: {permission} needs a second factor in this tenant",
        W.NOT_PRODUCT_OPERATOR: f"denied: store {store_name} is run by product and "
                                f"{subject} is not an operator of product {product}",
        W.NOT_ASSIGNED: f"denied: {subject} is not assigned to store {store_name}"
                        if in_tenant else f"denied: {store_name!r} is not a store of this tenant",
        W.NO_GRANT: f"denied: nothing grants {permission} to {subject} in store {store_name}",
        W.LIMIT_EXCEEDED: f"denied: {subject}'s limit for {permission} in store {store_name} "
                          f"is below {amounts.shown(amount) if amount else 'the amount'}",
        W.AMOUNT_REQUIRED: f"denied: {subject} holds {permission} only up to a limit, and "
                           "the check gave no amount",
        W.APPROVAL_REQUIRED: f"denied: {permission} always needs an approval in this tenant",
        W.APPROVAL_NOT_VALID: "denied: the approval does not allow this action",
    }.get(code, f"denied: {code}")
