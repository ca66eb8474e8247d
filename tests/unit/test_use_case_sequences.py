"""The whole service's rules as a model-based test over memory: random sequences of the
named use cases, written by two workers in turn over one in-memory store (each its own
held writes and its own replica, as two processes share one database), against the plain
Python reference model (tests/reference_model.py). After every step both workers answer
every question the model can be asked about the tenant, with the same reason code, and a
refused write changed nothing. Time is the test's clock: a time-boxed grant stops at its
end on both workers before any sweep, and the sweep only tidies.

The same rules run against two real instances over PostgreSQL in
tests/e2e/test_write_sequences.py; this one runs thousands of steps in seconds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from service.domain import catalogue, clock
from service.domain import policy_admin as A
from service.domain.accounts import BUILTIN_ROLES
from service.domain.decider import CheckRequest
from service.domain.errors import ServiceError
from service.domain.keys import Caller
from service.usecases import expiry, tenant_admin
from service.usecases import policy_edits as P
from service.usecases import subaccounts as U

from ..reference_model import OWNER, Reference, Tenant
from .memory import Memory, admin

STORES = ("s1", "s2", "s3")
LOGINS = ("ann", "ben", "cat", "dan")
ROLES = tuple(BUILTIN_ROLES)
# The permissions the steps grant and deny and the invariant asks about: the money ones,
# high-risk ones, and some every role holds or none does.
PERMS = ("orders:view", "orders:ship", "orders:cancel", "refunds:approve", "finance:withdraw",
         "prices:change", "reports:export", "chat:reply", "coupons:manage")
MONEY = {p.name for p in catalogue.PERMISSIONS if p.amount}
HIGH_RISK = {p.name for p in catalogue.PERMISSIONS if p.high_risk}
AMOUNTS = (None, "10.00", "150.00")
LIMITS = ("50.00", "200.00")
DEPTS = ("d1", "d2")
TENANT = "seq"
ADMIN_CALLER = admin()


class UseCaseSequences(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # Every worker reads the test's clock: the host's, plus the machine's offset.
        self.offset = 0.0
        self._host_now = clock.now
        clock.now = lambda: self._host_now() + self.offset
        self.workers = (Memory(seed=False),)
        self.workers += (self.workers[0].other(),)
        tenant_admin.create_tenant(self.workers[0].service, ADMIN_CALLER, TENANT)
        self.owner = Caller(f"{TENANT}-owner", "owner", TENANT)
        self.model = Reference(HIGH_RISK)
        self.t = self.model.tenants[TENANT] = Tenant(
            roles={r: set(p) for r, p in BUILTIN_ROLES.items()})
        self.turn = 0
        self.depts: set[str] = set()
        self.ends: dict = {}  # supplementary grant -> its end (Unix seconds, the test's clock)

    # -- plumbing ------------------------------------------------------------------------
    def write(self, use_case, *args, ok: bool, **kwargs) -> None:
        """One write by the next worker in turn: done when `ok`, else refused whole."""
        self.turn += 1
        worker = self.workers[self.turn % 2]
        store = worker.store
        before = (store.head(TENANT), store.read(TENANT).rules())
        if ok:
            use_case(worker.service, self.owner, TENANT, *args, **kwargs)
            return
        with pytest.raises(ServiceError):
            use_case(worker.service, self.owner, TENANT, *args, **kwargs)
        assert (store.head(TENANT), store.read(TENANT).rules()) == before

    # -- writes --------------------------------------------------------------------------
    @initialize()
    def stores_and_staff(self):
        for store in ("s1", "s2"):
            self.add_store(store)
        self.create_subaccount("ann", ["s1"])
        self.create_subaccount("ben", ["s1", "s2"])
        self.grant_role("ann", "customer-service", None)
        self.create_department("d1")

    @rule(store=st.sampled_from(STORES))
    def add_store(self, store):
        self.write(P.create_store, store, ok=store not in self.t.stores)
        self.t.stores.add(store)

    @rule(login=st.sampled_from(LOGINS),
          stores=st.lists(st.sampled_from(STORES), min_size=1, max_size=3, unique=True))
    def create_subaccount(self, login, stores):
        ok = login not in self.t.accounts and all(s in self.t.stores for s in stores)
        self.write(U.create, login, stores, {"display_name": login,
                                             "email": f"{login}@{TENANT}.test"}, ok=ok)
        if ok:
            self.t.accounts.add(login)
            self.t.assigned |= {(login, s) for s in stores}

    @rule(login=st.sampled_from(LOGINS), role=st.sampled_from(ROLES),
          where=st.sampled_from((None, *STORES)))
    def grant_role(self, login, role, where):
        ok = login in self.t.accounts and (where is None or where in self.t.stores)
        self.write(P.grant_role, A.Grantee("user", login), role,
                   "all" if where is None else [where], ok=ok)
        if ok:
            self.t.grants.add((("user", login), role, where))

    @rule(n=st.integers(0, 20))
    def revoke_role(self, n):
        held = sorted((g for g in self.t.grants if g[0][0] == "user"),
                      key=lambda g: (g[0], g[1], g[2] or ""))
        if not held:
            return
        who, role, where = held[n % len(held)]
        self.write(P.revoke_role, A.Grantee(*who), role, "all" if where is None else [where],
                   ok=True)
        self.t.grants.discard((who, role, where))

    @rule(login=st.sampled_from(LOGINS), store=st.sampled_from(STORES),
          perm=st.sampled_from(PERMS), deny=st.booleans(), everywhere=st.booleans(),
          limit=st.sampled_from((None, *LIMITS)))
    def direct(self, login, store, perm, deny, everywhere, limit):
        where = "all" if deny and everywhere else store
        if deny or perm not in MONEY:
            limit = None
        ok = login in self.t.accounts and (where == "all" or where in self.t.stores)
        self.write(P.add_direct, A.Grantee("user", login), where, perm,
                   "deny" if deny else "allow", None, limit, ok=ok)
        if not ok:
            return
        if deny:
            self.t.denies.add((("user", login), None if where == "all" else where, perm))
            return
        key = (("user", login), store, perm)
        self.t.allow(key, limit)
        self.ends.pop(key, None)

    @rule(login=st.sampled_from(LOGINS), store=st.sampled_from(STORES),
          perm=st.sampled_from(PERMS))
    def time_boxed_grant(self, login, store, perm):
        ok = login in self.t.accounts and store in self.t.stores
        ends = clock.now() + 1000
        self.write(P.add_direct, A.Grantee("user", login), store, perm, "allow",
                   datetime.fromtimestamp(ends, UTC), ok=ok)
        if ok:
            key = (("user", login), store, perm)
            self.t.allow(key)
            self.ends[key] = ends

    @rule()
    def time_passes(self):
        """Past every end given so far: both workers deny what ended before any sweep
        (the invariant asks); then a sweep tidies, once."""
        self.offset += 2000
        for key in [k for k, ends in self.ends.items() if ends <= clock.now()]:
            self.t.allows.discard(key)
            self.t.allow_limits.pop(key, None)
            del self.ends[key]
        self.check_every_answer()
        expiry.sweep(self.workers[self.turn % 2].store)
        assert expiry.sweep(self.workers[0].store) == []

    @rule(login=st.sampled_from(LOGINS), disabled=st.booleans())
    def set_status(self, login, disabled):
        ok = login in self.t.accounts
        self.write(U.set_disabled, login, disabled, ok=ok)
        if ok:
            (self.t.disabled.add if disabled else self.t.disabled.discard)(login)

    @rule(mode=st.sampled_from(("add", "remove", "reset")),
          logins=st.lists(st.sampled_from(LOGINS), min_size=1, max_size=2, unique=True),
          stores=st.lists(st.sampled_from(STORES), max_size=2, unique=True))
    def batch_assign(self, mode, logins, stores):
        ok = all(x in self.t.accounts for x in logins) \
            and all(s in self.t.stores for s in stores) and (stores or mode == "reset")
        self.write(P.batch_assign, mode, logins, stores, ok=ok)
        if not ok:
            return
        for login in logins:
            mine = {s for x, s in self.t.assigned if x == login}
            after = mine | set(stores) if mode == "add" else mine - set(stores) \
                if mode == "remove" else set(stores)
            self.t.assigned = {(x, s) for x, s in self.t.assigned if x != login} | {
                (login, s) for s in after}
            if not after:
                self.t.disabled.add(login)  # no store left: disabled (R14, R16)

    @rule(store=st.sampled_from(STORES))
    def revoke_store(self, store):
        ok = store in self.t.stores
        self.write(P.revoke_store, store, ok=ok)
        if not ok:
            return
        t = self.t
        affected = {x for x, s in t.assigned if s == store}
        t.stores.discard(store)
        t.assigned = {(x, s) for x, s in t.assigned if s != store}
        t.grants = {g for g in t.grants if g[2] != store}
        for key in [a for a in t.allows if a[1] == store]:
            t.allows.discard(key)
            t.allow_limits.pop(key, None)
            self.ends.pop(key, None)
        t.denies = {d for d in t.denies if d[1] != store}
        for login in affected:
            if not any(x == login for x, _ in t.assigned):
                t.disabled.add(login)

    @rule(on=st.booleans())
    def step_up(self, on):
        self.write(tenant_admin.update_settings, {"step_up": on}, ok=True)
        self.t.step_up = on

    @rule(dept=st.sampled_from(DEPTS))
    def create_department(self, dept):
        self.write(P.create_department, dept, dept, ok=dept not in self.depts)
        self.depts.add(dept)

    @rule(dept=st.sampled_from(DEPTS), login=st.sampled_from(LOGINS), join=st.booleans())
    def department_member(self, dept, login, join):
        member = dept in self.t.members.get(login, set())
        if join:
            ok = dept in self.depts and login in self.t.accounts
            self.write(U.join, dept, login, ok=ok)
            if ok:
                self.t.members.setdefault(login, set()).add(dept)
        else:
            self.write(U.leave, dept, login, ok=member)
            self.t.members.get(login, set()).discard(dept)

    @rule(dept=st.sampled_from(DEPTS), role=st.sampled_from(ROLES),
          where=st.sampled_from((None, *STORES)), deny=st.sampled_from((None, *PERMS)))
    def department_rules(self, dept, role, where, deny):
        ok = dept in self.depts and (where is None or where in self.t.stores)
        stores = "all" if where is None else [where]
        if deny is None:
            self.write(P.grant_role, A.Grantee("dept", dept), role, stores, ok=ok)
            if ok:
                self.t.grants.add((("dept", dept), role, where))
        else:
            self.write(P.add_direct, A.Grantee("dept", dept), "all" if where is None else where,
                       deny, "deny", ok=ok)
            if ok:
                self.t.denies.add((("dept", dept), where, deny))

    @rule(role=st.sampled_from(ROLES), perm=st.sampled_from(sorted(MONEY)),
          limit=st.sampled_from((None, *LIMITS)))
    def role_limits(self, role, perm, limit):
        held = sorted(self.t.roles[role] | {perm})
        self.write(P.set_role_permissions, role, held,
                   {} if limit is None else {perm: limit}, ok=True)
        self.t.roles[role] = set(held)
        self.t.role_limits[role] = {} if limit is None else {perm: Decimal(limit)}

    # -- what must hold after every step -------------------------------------------------
    @invariant()
    def check_every_answer(self):
        """Both workers answer every question as the model does."""
        asked = [(subject, store, perm, amount)
                 for subject in (OWNER, *LOGINS) for store in STORES for perm in PERMS
                 for amount in (AMOUNTS if perm in MONEY else (None,))]
        want = [self.model.reason(TENANT, s, store, p, False,
                                  None if a is None else Decimal(a))
                for s, store, p, a in asked]
        for side, worker in enumerate(self.workers):
            worker.service.replica.catch_up(force=True)
            got = worker.service.answer([CheckRequest(
                TENANT, s, store, *p.split(":"), False, "",
                "" if a is None else f"{Decimal(a):015.2f}") for s, store, p, a in asked])
            wrong = [(q, g, w) for q, g, w in zip(asked, got, want, strict=True) if g != w]
            assert not wrong, (side, wrong[:5])

    @invariant()
    def every_default_store_is_an_assigned_one(self):
        """R15, on the state as committed."""
        accounts = self.workers[0].store.read(TENANT).directory.accounts
        for login in self.t.accounts:
            mine = {s for x, s in self.t.assigned if x == login}
            if mine:
                assert accounts[login].default_store in mine, login

    def teardown(self):
        clock.now = self._host_now


TestUseCaseSequences = UseCaseSequences.TestCase
TestUseCaseSequences.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
