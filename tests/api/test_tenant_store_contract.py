"""The port's contract (domain/revisions.TenantStore), run per backend: the same named use
cases, written through the database (SQLite, PostgreSQL) and through the in-memory store
the unit tests use, leave the same committed state after every write (rules in their
order, directory, keys, catalogue) and the same ledger entries (revision, rule diff,
details), each chained to the one before. This is what lets the rule and use-case tests
run over memory (tests/unit/)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from types import SimpleNamespace

import pytest

from service.domain import clock
from service.domain import policy_admin as A
from service.domain.errors import Conflict
from service.domain.keys import OWNER, Caller
from service.storage import ledger, policy_store
from service.storage.models import db
from service.usecases import approvals as AP
from service.usecases import policy_edits as P
from service.usecases import subaccounts as U
from service.usecases import tenant_admin

from ..unit.memory import Memory

pytestmark = pytest.mark.storage

CALLER = Caller("acme-owner", OWNER, "acme")


def _steps(ends):
    """The use cases each backend runs, in order (`ends`: a grant's end, the same for
    both): sub-accounts, stores, roles, grants with an end and a limit, departments,
    batch assignment, a store's revocation, settings, and a refused write."""
    profile = {"display_name": "Mia", "email": "mia@example.com", "phone": "+65 1"}
    return [
        lambda s: P.create_store(s, CALLER, "acme", "lazada-my"),
        lambda s: P.set_currency(s, CALLER, "acme", "lazada-my", "MYR"),
        lambda s: U.create(s, CALLER, "acme", "mia", ["lazada-my", "amazon-us"], profile,
                           roles=[{"role": "operator", "stores": "all"}]),
        lambda s: U.update_profile(s, CALLER, "acme", "mia", {"note": "weekends"}),
        lambda s: P.create_department(s, CALLER, "acme", "ops", "Ops"),
        lambda s: U.join(s, CALLER, "acme", "ops", "mia"),
        lambda s: P.grant_role(s, CALLER, "acme", A.Grantee("dept", "ops"), "warehouse",
                               ["lazada-my"], ends),
        lambda s: P.add_direct(s, CALLER, "acme", A.Grantee("user", "mia"), "amazon-us",
                               "refunds:approve", "allow", None, "150.00"),
        lambda s: P.create_role(s, CALLER, "acme", "night", ["orders:view"]),
        lambda s: P.batch_assign(s, CALLER, "acme", "add", ["mia", "bob"], ["tmall-flagship"]),
        lambda s: U.set_default_store(s, CALLER, "acme", "mia", "tmall-flagship"),
        lambda s: P.rename_department(s, CALLER, "acme", "ops", "Operations"),
        lambda s: U.set_disabled(s, CALLER, "acme", "alice", True),
        lambda s: P.revoke_store(s, CALLER, "acme", "shopee-sg"),
        lambda s: tenant_admin.update_settings(s, CALLER, "acme", {"step_up": True}),
        lambda s: U.update_profile(s, CALLER, "acme", "bob", {"email": "MIA@example.com"}),
        lambda s: U.set_stores(s, CALLER, "acme", "mia", ["amazon-us"]),
        lambda s: P.set_role_permissions(s, CALLER, "acme", "customer-service",
                                         ["orders:view", "refunds:approve"],
                                         {"refunds:approve": "200.00"}),
        lambda s: AP.set_mode(s, CALLER, "acme", "refunds:approve", "over_limit"),
        lambda s: AP.file(s, CALLER, "acme", {"subject": "mia", "store": "amazon-us",
                                              "permission": "refunds:approve",
                                              "amount": "250.00"}),
        lambda s: AP.file(s, CALLER, "acme", {"subject": "mia", "store": "amazon-us",
                                              "permission": "refunds:approve",
                                              "amount": "300.00"}),
        lambda s: AP.decide(s, CALLER, "acme", "a1", None, True),
        lambda s: AP.decide(s, CALLER, "acme", "a2", None, False),
    ]


def _state(store, head: int):
    held = store.load("acme", head)
    keys = sorted((k.key_id, k.scope, k.valid_until) for k in held.keys)
    return list(held.rules.parsed), held.directory, keys, held.catalogue.permissions


def _entries(store_entries):
    return [(e.revision, sorted(e.added), sorted(e.removed), e.details) for e in store_entries]


def _written(app, monkeypatch) -> Memory:
    """The steps run through the app's database and through a memory store, each state
    compared after each step; the memory store, for the reads compared after."""
    service = app.extensions["authz"]
    memory = Memory()
    ends = clock.utcnow() + timedelta(days=30)
    filed_at = clock.utcnow()
    monkeypatch.setattr(AP, "_now", lambda: filed_at)
    for number, step in enumerate(_steps(ends)):
        outcomes = []
        for target in (service, memory.service):
            ids = (f"a{n}" for n in itertools.count(1 + sum(
                1 for _ in target.store.approvals("acme", "", limit=1000)[1])))
            monkeypatch.setattr(AP, "secrets",
                                SimpleNamespace(token_hex=lambda _, ids=ids: next(ids)))
            try:
                answer = step(target)
                outcomes.append(answer[0] if isinstance(answer, tuple) else answer)
            except Conflict as exc:
                outcomes.append(exc.errors)
        assert outcomes[0] == outcomes[1], f"step {number}"
        head = policy_store.head("acme")
        assert head == memory.store.head("acme")
        try:
            assert _state(policy_store.SQL, head) == _state(memory.store, head), f"step {number}"
        finally:
            db.session.rollback()
    logged = policy_store.SQL.since("acme", 0, head)
    db.session.rollback()
    assert _entries(logged) == _entries(memory.store.ledger("acme"))
    assert ledger.verify("acme").ok
    chain = memory.store.ledger("acme")
    assert all(len(e.hash) == 64 for e in chain) and len({e.hash for e in chain}) == len(chain)
    return memory


def test_the_database_and_the_memory_store_keep_the_same_revisions(app, monkeypatch):
    _written(app, monkeypatch)


def test_the_workers_reads_are_the_same_from_both(app, monkeypatch):
    """What a worker reads to hold a tenant (domain/revisions.TenantSource) and the
    approvals the queue lists, after the same writes."""
    memory = _written(app, monkeypatch)
    sql, mem = policy_store.SQL, memory.store
    try:
        for read in (lambda s: s.snapshot("acme"), lambda s: s.changes("acme", 3),
                     lambda s: s.changes("acme", 3, 9), lambda s: s.heads(["acme", "globex"]),
                     lambda s: sorted(k.key_id for k in s.working_keys("acme")),
                     lambda s: s.key("acme-owner"), lambda s: s.approval("acme", "a1"),
                     lambda s: s.approvals("acme", "", state="used"),
                     lambda s: s.approvals("acme", "", limit=1, offset=1),
                     lambda s: s.approvals("acme", "", subject="mia", state="rejected"),
                     lambda s: s.ended("9999"), lambda s: s.exists("acme")):
            assert read(sql) == read(mem)
    finally:
        db.session.rollback()
