"""The decision index: policies/model.conf compiled, per tenant, into dictionary look-ups.

pycasbin's `enforce` walks every policy row of the model and evaluates the matcher for
each (about a second per decision at a million rules). Because every rule the service
holds has one of the shapes in rules.py, the matcher can be answered instead by a few
set look-ups; this module does that, clause by clause, and nothing else. The
differential tests (tests/test_index_differential.py, bench/) prove it answers exactly
what plain pycasbin answers on the same model and rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from . import rules as R
from .rules import Kind, Rule

Permission = tuple[str, str]  # (area, action)


class TenantIndex:
    """What the matcher needs of one tenant's rules, keyed for O(1) look-ups."""

    __slots__ = ("tenant", "stores", "assigned", "departments", "grants", "role_permissions",
                 "allows", "denies", "disabled", "owners", "step_up", "by_product",
                 "operators")

    def __init__(self, tenant: str, rules: Iterable[Rule]):
        self.tenant = tenant
        self.stores: set[str] = set()  # store domains (g2 to this tenant)
        self.assigned: set[tuple[str, str]] = set()  # (user, store) and product nodes
        self.departments: dict[str, list[str]] = defaultdict(list)  # user -> departments
        self.grants: dict[str, set[str]] = defaultdict(set)  # principal -> role@scope
        self.role_permissions: dict[str, set[Permission]] = defaultdict(set)
        self.allows: set[tuple[str, str, str, str]] = set()  # principal, scope, area, action
        self.denies: set[tuple[str, str, str, str]] = set()
        self.disabled: set[str] = set()  # principals denied everything in the tenant
        self.owners: set[str] = set()  # principals allowed everything in the tenant
        self.step_up: set[Permission] = set()
        self.by_product: set[tuple[str, str, str]] = set()  # store, area, action
        self.operators: set[tuple[str, str]] = set()  # (user, store~product/<id> or ~products)
        for rule in rules:
            self._add(R.parse(rule))

    def _add(self, parsed: R.Parsed) -> None:
        v = parsed.rule.values
        kind = parsed.kind
        if kind is Kind.STORE:
            self.stores.add(v[0])
        elif kind is Kind.ASSIGNMENT:
            self.assigned.add((v[0], v[1]))
        elif kind is Kind.MEMBERSHIP:
            self.departments[v[0]].append(v[1])
        elif kind is Kind.GRANT:
            self.grants[v[0]].add(v[1])
        elif kind is Kind.ROLE_PERMISSION:
            self.role_permissions[v[0]].add((v[2], v[3]))
        elif kind is Kind.DIRECT:
            (self.allows if v[4] == "allow" else self.denies).add((v[0], v[1], v[2], v[3]))
        elif kind is Kind.DISABLED:
            self.disabled.add(v[0])
        elif kind is Kind.OWNER:
            self.owners.add(v[0])
        elif kind is Kind.STEP_UP:
            self.step_up.add((v[2], v[3]))
        elif kind is Kind.BY_PRODUCT:
            self.by_product.add((v[1], v[2], v[3]))
        else:  # PRODUCT_OPERATOR, ALL_PRODUCTS
            self.operators.add((v[0], v[1]))

    def decide(self, user: str, store: str, area: str, action: str, second_factor: bool,
               product: str) -> bool:
        """The model's answer for (user, store domain, area, action, mfa, product)."""
        tenant = self.tenant
        in_tenant = store in self.stores  # g2(r.dom, tenant)
        principals = (user, *self.departments.get(user, ()))
        # Denies first: any one wins (policy_effect).
        for who in principals:
            if (who, store, area, action) in self.denies:
                return False
            if in_tenant and ((who, tenant, area, action) in self.denies
                              or who in self.disabled):
                return False
        if in_tenant and not second_factor and (area, action) in self.step_up:
            return False
        if product and (store, area, action) in self.by_product \
                and (user, f"{store}~product/{product}") not in self.operators \
                and (user, f"{store}~products") not in self.operators:
            return False
        # Allows need the store to be assigned to the subject (matcher clauses 1 and 2).
        if (user, store) not in self.assigned:
            return False
        for who in principals:
            if (who, store, area, action) in self.allows:
                return True
            if not in_tenant:
                continue
            if who in self.owners or (who, tenant, area, action) in self.allows:
                return True
            for held in self.grants.get(who, ()):
                role, _, scope = held.partition("@")
                if (scope == store or scope == tenant) and \
                        (area, action) in self.role_permissions.get(role, ()):
                    return True
        return False
