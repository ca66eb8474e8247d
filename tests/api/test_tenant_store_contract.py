"""The port's contract (domain/revisions.TenantStore), run per backend: the same named use
cases, written through the database (SQLite, PostgreSQL) and through the in-memory store
the unit tests use, leave the same committed state after every write (rules in their
order, directory, keys, catalogue) and the same ledger entries (revision, rule diff,
details), each chained to the one before. This is what lets the rule and use-case tests
run over memory (tests/unit/)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.domain import clock
from service.domain import policy_admin as A
from service.domain.errors import Conflict
from service.domain.keys import OWNER, Caller
from service.storage import ledger, policy_store
from service.storage.models import db
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
    ]


def _state(store, head: int):
    held = store.load("acme", head)
    keys = sorted((k.key_id, k.scope, k.valid_until) for k in held.keys)
    return list(held.rules.parsed), held.directory, keys, held.catalogue.permissions


def _entries(store_entries):
    return [(e.revision, sorted(e.added), sorted(e.removed), e.details) for e in store_entries]


def test_the_database_and_the_memory_store_keep_the_same_revisions(app):
    service = app.extensions["authz"]
    memory = Memory()
    ends = clock.utcnow() + timedelta(days=30)
    for number, step in enumerate(_steps(ends)):
        outcomes = []
        for target in (service, memory.service):
            try:
                outcomes.append(step(target)[0])
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
