"""The decision index: policies/model.conf compiled, per tenant, into dictionary look-ups.

pycasbin's `enforce` walks every policy row of the model and evaluates the matcher for
each (about a second per decision at a million rules). Because every rule the service
holds has one of the shapes in rules.py, the matcher can be answered instead by a few
set look-ups; this module does that, clause by clause, and nothing else. The
differential tests (tests/test_index_differential.py, bench/) prove it answers exactly
what plain pycasbin answers on the same model and rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from sys import intern

from . import rules as R
from .rules import Kind, Rule

Permission = tuple[str, str]  # (area, action)


class TenantIndex:
    """What the matcher needs of one tenant's rules, keyed for O(1) look-ups.

    Rules come from the database, where only rules that passed rules.parse are ever
    written, so they are sorted into place by rules.classify. Strings are interned: a
    sub-account's name appears in many rules but is kept once.
    """

    __slots__ = ("tenant", "stores", "assigned", "departments", "grants", "role_permissions",
                 "allows", "denies", "disabled", "owners", "step_up", "by_product",
                 "operators")

    def __init__(self, tenant: str, rules: Iterable[Rule] = ()):
        self.tenant = tenant
        self.stores: set[str] = set()  # store domains (g2 to this tenant)
        self.assigned: set[tuple[str, str]] = set()  # (user, store)
        self.departments: dict[str, set[str]] = {}  # user -> departments
        self.grants: dict[str, set[tuple[str, str]]] = {}  # principal -> (role, scope)
        self.role_permissions: dict[str, set[Permission]] = {}
        # principal -> {(scope, area, action)}: one look-up finds whether a principal has
        # any direct allow or deny before a key is built
        self.allows: dict[str, set[tuple[str, str, str]]] = {}
        self.denies: dict[str, set[tuple[str, str, str]]] = {}
        self.disabled: set[str] = set()  # principals denied everything in the tenant
        self.owners: set[str] = set()  # principals allowed everything in the tenant
        self.step_up: set[Permission] = set()
        self.by_product: set[tuple[str, str, str]] = set()  # store, area, action
        self.operators: set[tuple[str, str]] = set()  # (user, store~product/<id> or ~products)
        for rule in rules:
            self.add(rule)

    def _slot(self, ptype: str, values: tuple[str, ...]) -> tuple[object, object]:
        """(container, item) holding this rule; a dict container means (key, member)."""
        v = tuple(map(intern, values))
        kind = R.classify_values(ptype, v)
        if kind is Kind.STORE:
            return self.stores, v[0]
        if kind is Kind.ASSIGNMENT:
            return self.assigned, v
        if kind is Kind.GRANT:
            role, _, scope = v[1].partition("@")
            return self.grants, (v[0], (intern(role), intern(scope)))
        if kind is Kind.MEMBERSHIP:
            return self.departments, (v[0], v[1])
        if kind in (Kind.PRODUCT_OPERATOR, Kind.ALL_PRODUCTS):
            return self.operators, v
        sub, dom, area, action, effect = v
        if kind is Kind.STEP_UP:
            return self.step_up, (area, action)
        if kind is Kind.BY_PRODUCT:
            return self.by_product, (dom, area, action)
        if kind is Kind.OWNER:
            return self.owners, sub
        if kind is Kind.DISABLED:
            return self.disabled, sub
        if kind is Kind.ROLE_PERMISSION:
            return self.role_permissions, (sub, (area, action))
        return (self.allows if effect == "allow" else self.denies), (sub, (dom, area, action))

    def add(self, rule: Rule) -> None:
        self.add_values(rule.ptype, rule.values)

    def add_values(self, ptype: str, values: tuple[str, ...]) -> None:
        container, item = self._slot(ptype, values)
        if isinstance(container, dict):
            key, member = item  # type: ignore[misc]
            container.setdefault(key, set()).add(member)
        else:
            container.add(item)  # type: ignore[attr-defined]

    def remove(self, rule: Rule) -> None:
        container, item = self._slot(rule.ptype, rule.values)
        if isinstance(container, dict):
            key, member = item  # type: ignore[misc]
            members = container.get(key)
            if members is not None:
                members.discard(member)
                if not members:
                    del container[key]
        else:
            container.discard(item)  # type: ignore[attr-defined]

    def rules(self) -> set[Rule]:
        """The rules this index holds, rebuilt from it."""
        t = self.tenant
        out = {Rule("g2", (s, t)) for s in self.stores}
        out |= {Rule("g", pair) for pair in self.assigned | self.operators}
        out |= {Rule("g", (k, m)) for k, members in self.departments.items() for m in members}
        out |= {Rule("g", (k, R.scoped_role(role, scope)))
                for k, held in self.grants.items() for role, scope in held}
        out |= {Rule("p", (role, t, a, b, "allow"))
                for role, perms in self.role_permissions.items() for a, b in perms}
        for mapping, effect in ((self.allows, "allow"), (self.denies, "deny")):
            out |= {Rule("p", (who, *item, effect))
                    for who, items in mapping.items() for item in items}
        out |= {Rule("p", (who, t, R.ANY, R.ANY, "allow")) for who in self.owners}
        out |= {Rule("p", (who, t, R.ANY, R.ANY, "deny")) for who in self.disabled}
        out |= {Rule("p", (R.STEP_UP, t, a, b, "deny")) for a, b in self.step_up}
        out |= {Rule("p", (R.BY_PRODUCT, s, a, b, "deny")) for s, a, b in self.by_product}
        return out

    def decide(self, user: str, store: str, area: str, action: str, second_factor: bool,
               product: str) -> bool:
        """The model's answer for (user, store domain, area, action, mfa, product)."""
        tenant = self.tenant
        in_tenant = store in self.stores  # g2(r.dom, tenant)
        departments = self.departments.get(user)
        principals = (user, *departments) if departments else (user,)
        here, everywhere = (store, area, action), (tenant, area, action)
        # Denies first: any one wins (policy_effect).
        denies, disabled = self.denies, self.disabled
        for who in principals:
            mine = denies.get(who)
            if mine is not None and (here in mine or (in_tenant and everywhere in mine)):
                return False
            if in_tenant and who in disabled:
                return False
        if in_tenant and not second_factor and (area, action) in self.step_up:
            return False
        if product and here in self.by_product \
                and (user, f"{store}~product/{product}") not in self.operators \
                and (user, f"{store}~products") not in self.operators:
            return False
        # Allows need the store to be assigned to the subject (matcher clauses 1 and 2).
        if (user, store) not in self.assigned:
            return False
        allows, grants, role_permissions = self.allows, self.grants, self.role_permissions
        permission = (area, action)
        for who in principals:
            mine = allows.get(who)
            if mine is not None and (here in mine or (in_tenant and everywhere in mine)):
                return True
            if not in_tenant:
                continue
            if who in self.owners:
                return True
            for role, scope in grants.get(who, ()):
                if (scope == store or scope == tenant) and \
                        permission in role_permissions.get(role, ()):
                    return True
        return False
