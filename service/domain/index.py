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

from . import amounts
from . import reasons as W
from . import rules as R
from .rules import Kind, Rule

Permission = tuple[str, str]  # (area, action)
(STORE, ASSIGNMENT, MEMBERSHIP, GRANT, ROLE_PERMISSION, DIRECT, DISABLED, OWNER, OWNER_APP,
 STEP_UP, BY_PRODUCT, APP, APPROVAL, APPROVAL_SUBJECT, APPROVAL_ALWAYS,
 APPROVAL_OVER_LIMIT) = (
    Kind.STORE, Kind.ASSIGNMENT, Kind.MEMBERSHIP, Kind.GRANT, Kind.ROLE_PERMISSION,
    Kind.DIRECT, Kind.DISABLED, Kind.OWNER, Kind.OWNER_APP, Kind.STEP_UP, Kind.BY_PRODUCT,
    Kind.APP, Kind.APPROVAL, Kind.APPROVAL_SUBJECT, Kind.APPROVAL_ALWAYS,
    Kind.APPROVAL_OVER_LIMIT)
GRANTED, NO_GRANT = W.GRANTED, W.NO_GRANT
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
                 "by_product", "operators", "apps", "owner_apps", "limits", "approvals",
                 "approval_of", "approval_always", "approval_over_limit", "owner",
                 "_permits_made")

    def __init__(self, tenant: str, rules: Iterable[Rule] = ()):
        self.tenant = tenant
        self.stores: set[str] = set()  # store domains (g2 to this tenant)
        self.subjects: dict[str, SubjectRules] = {}  # user or department -> its rules
        self.role_permissions: dict[str, frozenset] = {}  # role -> (area, action)s
        self.step_up: set[Permission] = set()
        self.by_product: set[tuple[str, str, str]] = set()  # store, area, action
        self.operators: set[tuple[str, str]] = set()  # (user, store~product/<id> or ~products)
        self.apps: set[str] = set()  # the apps the tenant installed (R21)
        # The apps the owner's `<app>.*` rules name (the apps installed: the invariants):
        # the app areas the owner's rules reach, as in the model (owner_holds).
        self.owner_apps: set[str] = set()
        # (area, action) -> {limit: how many grants carry it} (R22): the limits to try
        self.limits: dict[Permission, dict[str, int]] = {}
        # R24: approval:<t>:<id> -> (store[~product/<id>], area, action[<=limit]), and whose
        self.approvals: dict[str, tuple[str, str, str]] = {}
        self.approval_of: dict[str, str] = {}
        self.approval_always: set[Permission] = set()
        self.approval_over_limit: set[Permission] = set()
        self.owner = R.owner(tenant)
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
                item = (v[1], v[2], v[3])
                # A limit is counted once per grant that carries it: a rule already there,
                # or already gone (withdrawn at its end, then swept), changes no count.
                if "<" in v[3] and (item in who.allows) != add:
                    self._count_limit(v[2], v[3], add)
                who.allows = change(who.allows, item)
            else:
                who.denies = change(who.denies, (v[1], v[2], v[3]))
        elif kind is ROLE_PERMISSION:
            if "<" in v[3] \
                    and ((v[2], v[3]) in self.role_permissions.get(v[0], NOTHING)) != add:
                self._count_limit(v[2], v[3], add)
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
            elif kind is OWNER_APP:
                members, item = self.owner_apps, v[2][:-2]
            elif kind is APPROVAL or kind is APPROVAL_SUBJECT:
                table = self.approvals if kind is APPROVAL else self.approval_of
                item = (v[1], v[2], v[3]) if kind is APPROVAL else v[1]
                if add:
                    table[v[0]] = item  # (one per approval: the grammar's invariants)
                elif table.get(v[0]) == item:
                    del table[v[0]]
                return
            elif kind is APPROVAL_ALWAYS:
                members, item = self.approval_always, (v[2], v[3])
            elif kind is APPROVAL_OVER_LIMIT:
                members, item = self.approval_over_limit, (v[2], v[3])
            else:  # a product operator, or the owner's rule for all products
                members, item = self.operators, v
            (members.add if add else members.discard)(item)
            return
        if not add and who.empty():
            del self.subjects[v[0]]

    def _count_limit(self, area: str, act: str, add: bool) -> None:
        action, limit = amounts.split(act)
        counts = self.limits.setdefault((area, action), {})
        counts[limit] = counts.get(limit, 0) + (1 if add else -1)
        if counts[limit] <= 0:
            del counts[limit]
            if not counts:
                del self.limits[(area, action)]

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
            out.update((area, amounts.split(act)[0]) for _, area, act in who.allows)
            for role, _ in who.grants:
                out.update((area, amounts.split(act)[0])
                           for area, act in self.role_permissions.get(role, ()))
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
        out |= {R.owner_app(t, app) for app in self.owner_apps}
        out |= {Rule("g", pair) for pair in self.operators}
        out |= {Rule("p", (role, t, a, b, "allow"))
                for role, perms in self.role_permissions.items() for a, b in perms}
        out |= {Rule("p", (R.STEP_UP, t, a, b, "deny")) for a, b in self.step_up}
        out |= {Rule("p", (R.BY_PRODUCT, s, a, b, "deny")) for s, a, b in self.by_product}
        out |= {Rule("p", (R.APPROVAL_ALWAYS, t, a, b, "deny")) for a, b in self.approval_always}
        out |= {Rule("p", (R.APPROVAL_OVER_LIMIT, t, a, b, "deny"))
                for a, b in self.approval_over_limit}
        out |= {Rule("p", (name, *rule, "allow")) for name, rule in self.approvals.items()}
        out |= {Rule("g2", (name, user)) for name, user in self.approval_of.items()}
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
               product: str, amount: str = "", approval: str = "") -> bool:
        """answer() is GRANTED: for (user, store domain, area, action, mfa, product, amount,
        approval), `amount` at the model's width or "", `approval` approval:<t>:<id> or ""."""
        return self.answer(user, store, area, action, second_factor, product, amount,
                           approval) is GRANTED

    def answer(self, user: str, store: str, area: str, action: str, second_factor: bool,
               product: str, amount: str = "", approval: str = "") -> str:
        """The service's decision as a reason code (domain/reasons.py): GRANTED exactly when
        the model allows and the permission is not an app's that the tenant has not
        installed. When several things deny, the code names the first a caller can act on
        in this order: an app not installed, a deny, disabled, not assigned, not the
        product's operator (final); then no grant; then a second factor; then the amount,
        the limit or an approval."""
        if "." in area and area.partition(".")[0] not in self.apps:
            # R21, before the model is asked, whoever the subject: the export holds no
            # rule of an app not installed, so stock pycasbin denies it too
            return W.APP_NOT_INSTALLED
        principals = self.subjects
        me = principals.get(user)
        if me is None:  # no rules at all: not even a deny names it
            return W.NOT_ASSIGNED
        tenant = self.tenant
        in_tenant = store in self.stores  # g2(r.dom, tenant)
        chain = [me]
        for department in me.departments:
            it = principals.get(department)
            if it is not None:
                chain.append(it)
        here, everywhere = (store, area, action), (tenant, area, action)
        # Denies first: any one wins (policy_effect); a deny of any principal is named
        # before disabled.
        for who in chain:
            denies = who.denies
            if denies and (here in denies or (in_tenant and everywhere in denies)):
                return W.EXPLICIT_DENY
        if in_tenant and me.disabled:  # (the grammar disables only sub-accounts)
            return W.DISABLED
        # Every allow needs the store assigned to the subject (matcher clauses 1, 2 and 6),
        # so without it the answer is a deny whatever else applies (but a deny or disabled,
        # final as well, is named first).
        if store not in me.stores:
            return W.NOT_ASSIGNED
        permission = (area, action)
        if product and here in self.by_product \
                and (user, f"{store}~product/{product}") not in self.operators \
                and (user, f"{store}~products") not in self.operators:
            return W.NOT_PRODUCT_OPERATOR
        if approval:
            code = GRANTED if self.approved(user, store, area, action, product, amount,
                                             approval) else W.APPROVAL_NOT_VALID
        else:
            code = GRANTED if self.any_allow(chain, in_tenant, here, everywhere, permission) \
                else self._limited(chain, in_tenant, store, area, action, amount)
            if code is GRANTED and in_tenant and self.approval_always \
                    and permission in self.approval_always and user != self.owner:
                code = W.APPROVAL_REQUIRED
        if code is not GRANTED and (code is NO_GRANT or code is W.APPROVAL_NOT_VALID):
            return code
        if in_tenant and not second_factor and self.step_up and permission in self.step_up:
            return W.STEP_UP_REQUIRED
        return code

    def owner_holds(self, area: str) -> bool:
        """Whether the owner's rules reach `area`: `*` every built-in area, `<app>.*` the
        areas of an installed app (an app's area holds a '.')."""
        return "." not in area or area.partition(".")[0] in self.owner_apps

    def any_allow(self, chain: list[SubjectRules], in_tenant: bool, here: Scoped,
                  everywhere: Scoped, permission: Permission, found=None) -> bool:
        """Does some allow of clause 1 or 2 apply to a principal of `chain` (the subject,
        then its departments), the request using no approval? The one walk of the allow
        clauses: a decision stops at the first; with `found`, the walk goes on and calls
        found(kind, place in chain, scope, role) for every path ("direct", "owner" or
        "role"), which is how explain records it."""
        store, tenant = here[0], everywhere[0]
        allowed = False
        for place, who in enumerate(chain):
            allows = who.allows
            if allows:
                if here in allows:
                    if found is None:
                        return True
                    allowed = True
                    found("direct", place, store, None)
                if in_tenant and everywhere in allows:
                    if found is None:
                        return True
                    allowed = True
                    found("direct", place, tenant, None)
            if not in_tenant:
                continue
            if who.owner and self.owner_holds(permission[0]):
                if found is None:
                    return True
                allowed = True
                found("owner", place, tenant, None)
            permits = who.permits
            if permits is None:
                permits = self._permits(who)
            if not permits:
                continue
            for scope in (store, tenant):
                mine = permits.get(scope)
                if mine is not None and permission in mine:
                    if found is None:
                        return True
                    allowed = True
                    for role, where in sorted(who.grants):
                        if where == scope and permission in self.role_permissions.get(role, ()):
                            found("role", place, scope, role)
        return allowed

    def _limited(self, chain: list[SubjectRules], in_tenant: bool, store: str, area: str,
                 action: str, amount: str) -> str:
        """No unlimited allow applies: does a grant with a limit at or above `amount`
        (GRANTED), one with a lower limit (LIMIT_EXCEEDED), one that needs an amount
        (AMOUNT_REQUIRED), or none (NO_GRANT)?"""
        limits = self.limits.get((area, action)) if self.limits else None
        if not limits:
            return NO_GRANT
        tenant = self.tenant
        held = False
        for limit in sorted(limits, reverse=True):
            act = amounts.limited(action, limit)
            if self.any_allow(chain, in_tenant, (store, area, act), (tenant, area, act),
                              (area, act)):
                if amount and amount <= limit:
                    return GRANTED
                held = True
                break  # (every other limit is lower still)
        if not held:
            return NO_GRANT
        return W.LIMIT_EXCEEDED if amount else W.AMOUNT_REQUIRED

    def approved(self, user: str, store: str, area: str, action: str, product: str,
                  amount: str, approval: str) -> bool:
        """Clause 6: the approved request `approval` is `user`'s, for this store (and
        product), area and action, up to its amount."""
        rule = self.approvals.get(approval)
        if rule is None or self.approval_of.get(approval) != user:
            return False
        where, rule_area, act = rule
        if rule_area != area or where != (f"{store}~product/{product}" if product else store):
            return False
        base, limit = amounts.split(act)
        return base == action and (not limit or (amount != "" and amount <= limit))

    def approvable(self, area: str, action: str) -> bool:
        """May the tenant's sub-accounts ask for an approval of this permission over their
        limit (R24)?"""
        return (area, action) in self.approval_over_limit \
            or (area, action) in self.approval_always
