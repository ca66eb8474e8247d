"""The decision index: policies/model.conf compiled, per tenant, into dictionary look-ups.

pycasbin's `enforce` walks every policy row of the model and evaluates the matcher for
each (about a second per decision at a million rules). Because every rule the service
holds has one of the shapes in rules.py, the matcher can be answered instead by a few
set look-ups; this module does that, clause by clause, and nothing else. The
differential tests (tests/unit/test_index_differential.py, bench/) prove it answers exactly
what plain pycasbin answers on the same model and rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from sys import intern

from . import rules as R
from .rules import Kind, Rule

Permission = tuple[str, str]  # (area, action)
(STORE, ASSIGNMENT, MEMBERSHIP, GRANT, ROLE_PERMISSION, DIRECT, DISABLED, OWNER, STEP_UP,
 BY_PRODUCT, APP) = (Kind.STORE, Kind.ASSIGNMENT, Kind.MEMBERSHIP, Kind.GRANT,
                     Kind.ROLE_PERMISSION, Kind.DIRECT, Kind.DISABLED, Kind.OWNER, Kind.STEP_UP,
                     Kind.BY_PRODUCT, Kind.APP)
Scoped = tuple[str, str, str]  # (store domain or tenant, area, action)
NOTHING: frozenset = frozenset()
# Permission sets equal in content are kept once for every tenant (every tenant's
# "warehouse" role grants the same set): a decision then reads memory that every other
# decision keeps warm. Bounded; past the limit sets are simply not shared.
_SHARED: dict[frozenset, frozenset] = {}
SHARED_LIMIT = 100_000


def _shared(permissions: frozenset) -> frozenset:
    kept = _SHARED.get(permissions)
    if kept is None:
        if len(_SHARED) >= SHARED_LIMIT:
            return permissions
        kept = _SHARED[permissions] = permissions
    return kept


class SubjectRules:
    """One user's or department's own rules in a tenant, together: a decision reads one
    object per principal instead of probing a table per kind of rule."""

    __slots__ = ("stores", "departments", "grants", "allows", "denies", "disabled", "owner",
                 "permits")

    def __init__(self) -> None:
        self.stores: set[str] | frozenset = NOTHING  # assigned store domains (a user's)
        self.departments: set[str] | frozenset = NOTHING  # a user's departments
        self.grants: set[tuple[str, str]] | frozenset = NOTHING  # (role, scope)
        self.allows: set[Scoped] | frozenset = NOTHING
        self.denies: set[Scoped] | frozenset = NOTHING
        self.disabled = False  # denied everything in the tenant
        self.owner = False  # allowed everything in the tenant
        # scope -> the permissions its grants' roles hold there; worked out on first use
        # and forgotten when a grant or a role's permissions change
        self.permits: dict[str, frozenset] | None = None

    def empty(self) -> bool:
        return not (self.stores or self.departments or self.grants or self.allows
                    or self.denies or self.disabled or self.owner)


EVERYONE_ELSE = SubjectRules()  # what a principal without rules looks like (never changed)


def _added(members: set | frozenset, item: object) -> set:
    if members is NOTHING:
        return {item}
    members.add(item)  # type: ignore[union-attr]
    return members  # type: ignore[return-value]


def _removed(members: set | frozenset, item: object) -> set | frozenset:
    if members:
        members.discard(item)  # type: ignore[union-attr]
    return members or NOTHING


class TenantIndex:
    """What the matcher needs of one tenant's rules, keyed for O(1) look-ups.

    Rules come from the database, where only rules that passed rules.parse are ever
    written, so they are sorted into place by rules.classify. Strings are interned: a
    sub-account's name appears in many rules but is kept once.
    """

    __slots__ = ("tenant", "stores", "subjects", "role_permissions", "step_up",
                 "by_product", "operators", "apps", "_permits_made")

    def __init__(self, tenant: str, rules: Iterable[Rule] = ()):
        self.tenant = tenant
        self.stores: set[str] = set()  # store domains (g2 to this tenant)
        self.subjects: dict[str, SubjectRules] = {}  # user or department -> its rules
        self.role_permissions: dict[str, frozenset] = {}  # role -> (area, action)s
        self.step_up: set[Permission] = set()
        self.by_product: set[tuple[str, str, str]] = set()  # store, area, action
        self.operators: set[tuple[str, str]] = set()  # (user, store~product/<id> or ~products)
        self.apps: set[str] = set()  # the apps the tenant installed (R21)
        self._permits_made = False  # some principal's permits are worked out
        for rule in rules:
            self.add(rule)

    def rules_of(self, who: str) -> SubjectRules:
        """`who`'s rules (EVERYONE_ELSE when it has none): read, never change."""
        return self.subjects.get(who, EVERYONE_ELSE)

    def add(self, rule: Rule) -> None:
        self.add_values(rule.ptype, rule.values)

    def add_values(self, ptype: str, values: tuple[str, ...]) -> None:
        self._change(ptype, tuple(map(intern, values)), True)

    def remove(self, rule: Rule) -> None:
        self._change(rule.ptype, tuple(map(intern, rule.values)), False)

    def _change(self, ptype: str, v: tuple[str, ...], add: bool) -> None:
        # A million of these at start-up: the kinds are compared as module constants
        # (an Enum attribute costs five times as much) and the commonest come first.
        kind = R.classify_values(ptype, v)
        if kind is ASSIGNMENT or kind is MEMBERSHIP or kind is GRANT or kind is DIRECT:
            who = self.subjects.get(v[0])
            if who is None:
                if not add:
                    return
                who = self.subjects[v[0]] = SubjectRules()
            change = _added if add else _removed
            if kind is ASSIGNMENT:
                who.stores = change(who.stores, v[1])
            elif kind is MEMBERSHIP:
                who.departments = change(who.departments, v[1])
            elif kind is GRANT:
                role, _, scope = v[1].partition("@")
                who.grants = change(who.grants, (intern(role), intern(scope)))
                who.permits = None
            elif v[4] == "allow":
                who.allows = change(who.allows, (v[1], v[2], v[3]))
            else:
                who.denies = change(who.denies, (v[1], v[2], v[3]))
        elif kind is ROLE_PERMISSION:
            self._change_role(v[0], (v[2], v[3]), add)
            return
        elif kind is OWNER or kind is DISABLED:
            who = self.subjects.get(v[0])
            if who is None:
                if not add:
                    return
                who = self.subjects[v[0]] = SubjectRules()
            if kind is OWNER:
                who.owner = add
            else:
                who.disabled = add
        else:
            if kind is STORE:
                members, item = self.stores, v[0]
            elif kind is STEP_UP:
                members, item = self.step_up, (v[2], v[3])
            elif kind is BY_PRODUCT:
                members, item = self.by_product, (v[1], v[2], v[3])
            elif kind is APP:
                members, item = self.apps, v[0][len(R.APP_PREFIX):]
            else:  # a product operator, or the owner's rule for all products
                members, item = self.operators, v
            (members.add if add else members.discard)(item)
            return
        if not add and who.empty():
            del self.subjects[v[0]]

    def _change_role(self, role: str, permission: Permission, add: bool) -> None:
        held = self.role_permissions.get(role, NOTHING)
        held = held | {permission} if add else held - {permission}
        if held:
            self.role_permissions[role] = held
        else:
            self.role_permissions.pop(role, None)
        if self._permits_made:  # (never while loading: nothing has been decided yet)
            for who in self.subjects.values():
                who.permits = None
            self._permits_made = False

    def _permits(self, who: SubjectRules) -> dict[str, frozenset]:
        permits: dict[str, frozenset] = {}
        for role, scope in who.grants:
            held = self.role_permissions.get(role)
            if held:
                permits[scope] = permits.get(scope, NOTHING) | held
        who.permits = {scope: _shared(held) for scope, held in permits.items()}
        self._permits_made = True
        return who.permits

    def reachable(self, user: str) -> set[tuple[str, str]] | None:
        """Every (area, action) some rule could allow `user` (its own and its departments'
        direct grants and roles, anywhere): the only candidates for an allow. None for a
        subject with the owner's rule, who may be allowed anything."""
        me = self.subjects.get(user)
        if me is None:
            return set()
        out: set[tuple[str, str]] = set()
        for who in (me, *(self.subjects.get(d) for d in me.departments)):
            if who is None:
                continue
            if who.owner:
                return None
            out.update((area, action) for _, area, action in who.allows)
            for role, _ in who.grants:
                out.update(self.role_permissions.get(role, ()))
        return out

    def assignments(self) -> Iterator[tuple[str, str]]:
        """Every (user, store domain) assignment."""
        for user, who in self.subjects.items():
            for store in who.stores:
                yield user, store

    def rules(self) -> set[Rule]:
        """The rules this index holds, rebuilt from it."""
        t = self.tenant
        out = {Rule("g2", (s, t)) for s in self.stores}
        out |= {Rule("g2", (R.installed(app), t)) for app in self.apps}
        out |= {Rule("g", pair) for pair in self.operators}
        out |= {Rule("p", (role, t, a, b, "allow"))
                for role, perms in self.role_permissions.items() for a, b in perms}
        out |= {Rule("p", (R.STEP_UP, t, a, b, "deny")) for a, b in self.step_up}
        out |= {Rule("p", (R.BY_PRODUCT, s, a, b, "deny")) for s, a, b in self.by_product}
        for name, who in self.subjects.items():
            out |= {Rule("g", (name, s)) for s in who.stores}
            out |= {Rule("g", (name, d)) for d in who.departments}
            out |= {Rule("g", (name, R.scoped_role(role, scope))) for role, scope in who.grants}
            out |= {Rule("p", (name, *item, "allow")) for item in who.allows}
            out |= {Rule("p", (name, *item, "deny")) for item in who.denies}
            if who.owner:
                out.add(Rule("p", (name, t, R.ANY, R.ANY, "allow")))
            if who.disabled:
                out.add(Rule("p", (name, t, R.ANY, R.ANY, "deny")))
        return out

    def decide(self, user: str, store: str, area: str, action: str, second_factor: bool,
               product: str) -> bool:
        """The model's answer for (user, store domain, area, action, mfa, product)."""
        principals = self.subjects
        me = principals.get(user)
        # Every allow needs the store assigned to the subject (matcher clauses 1 and 2),
        # so without it the answer is a deny whatever else applies.
        if me is None or store not in me.stores:
            return False
        tenant = self.tenant
        in_tenant = store in self.stores  # g2(r.dom, tenant)
        chain = [me]
        for department in me.departments:
            it = principals.get(department)
            if it is not None:
                chain.append(it)
        here, everywhere = (store, area, action), (tenant, area, action)
        # Denies first: any one wins (policy_effect).
        for who in chain:
            denies = who.denies
            if denies and (here in denies or (in_tenant and everywhere in denies)):
                return False
            if in_tenant and who.disabled:
                return False
        permission = (area, action)
        if in_tenant and not second_factor and self.step_up and permission in self.step_up:
            return False
        if product and here in self.by_product \
                and (user, f"{store}~product/{product}") not in self.operators \
                and (user, f"{store}~products") not in self.operators:
            return False
        for who in chain:
            allows = who.allows
            if allows and (here in allows or (in_tenant and everywhere in allows)):
                return True
            if not in_tenant:
                continue
            if who.owner:
                return True
            permits = who.permits
            if permits is None:
                permits = self._permits(who)
            if permits:
                mine = permits.get(store)
                if mine is not None and permission in mine:
                    return True
                mine = permits.get(tenant)
                if mine is not None and permission in mine:
                    return True
        return False
