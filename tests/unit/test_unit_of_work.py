"""The unit of work (usecases/unit_of_work.py) over the in-memory store: a write is one
revision or nothing, starts from the state the worker holds (caught up from the ledger
when another worker wrote, read whole when too far behind), and every write is held to the
invariants. The same code runs over the database (tests/api/test_write_cost.py,
tests/api/test_tenant_store_contract.py)."""

from __future__ import annotations

import pytest

from service.domain import policy_admin as A
from service.domain.errors import InvalidInput
from service.domain.revisions import CATCH_UP_AT_MOST, BrokenWrite
from service.domain.rules import Rule
from service.storage.ledger import GENESIS
from service.storage.memory_store import MemoryTenantStore
from service.usecases import subaccounts as U
from service.usecases import tenant_admin
from service.usecases.unit_of_work import HeldWrites, write

from .memory import Memory, owner

OWNER = owner()


class Counted(MemoryTenantStore):
    """The in-memory store, counting how a write found its starting state."""

    def __init__(self):
        super().__init__()
        self.loads = self.catch_ups = 0

    def load(self, tenant, at):
        self.loads += 1
        return super().load(tenant, at)

    def since(self, tenant, after, to):
        self.catch_ups += 1
        return super().since(tenant, after, to)


def _flip(m: Memory, disabled: bool, login: str = "alice") -> int:
    return U.set_disabled(m.service, OWNER, "acme", login, disabled)[0]


def test_a_write_that_changes_nothing_is_no_revision():
    m = Memory()
    assert _flip(m, False) == 1  # alice is active already
    assert m.store.head("acme") == 1 and len(m.store.ledger("acme")) == 1


@pytest.mark.parametrize("edit", [
    lambda p: p.remove(Rule("p", ("user:acme:owner", "acme", "*", "*", "allow"))),  # R3
    lambda p: p.add(Rule("g", ("user:acme:alice", "acme/ghost"))),
    lambda p: p.add(Rule("g", ("user:acme:alice", "role:acme:phantom@acme"))),
    lambda p: p.add(Rule("g2", ("acme/all", "acme"))),
    lambda p: p.add(Rule("p", ("user:acme:alice", "acme", "reports", "export", "allow"))),
    lambda p: p.add(Rule("g", ("user:acme:nobody", "acme/amazon-us"))),
])
def test_every_write_is_held_to_the_invariants(edit):
    m = Memory()
    with pytest.raises(InvalidInput):
        write(m.store, "acme", "test", "", edit, held=m.service.held_writes)
    assert m.store.head("acme") == 1
    _flip(m, True)  # the held state is still the committed one (verify mode compares)


def test_an_edit_that_fails_halfway_leaves_nothing():
    m = Memory()
    _flip(m, True)

    def half(policy):
        A.set_disabled(policy, "bob", True)
        raise RuntimeError("the edit failed after staging")

    with pytest.raises(RuntimeError):
        write(m.store, "acme", "test", "", half, held=m.service.held_writes)
    assert m.store.head("acme") == 2
    assert m.allows("acme", "bob", "shopee-sg", "refunds:approve")
    _flip(m, False)  # and the next write starts from the committed state
    assert m.allows("acme", "alice", "amazon-us", "orders:view")


def test_a_worker_behind_another_catches_up_from_the_ledger():
    store = Counted()
    here = Memory(store)
    there = here.other()
    _flip(here, True)
    _flip(there, False)  # there reads the tenant whole: its first write
    loads = store.loads - 2  # (verify mode reads whole too: one per write)
    _flip(there, True)
    _flip(there, False)
    catch_ups = store.catch_ups
    assert _flip(here, True) == 6  # here is three revisions behind
    assert store.catch_ups == catch_ups + 1
    assert store.loads - 5 == loads  # only verify mode's whole reads, one per write
    assert not here.allows("acme", "alice", "amazon-us", "orders:view")


def test_a_worker_too_far_behind_reads_the_tenant_whole():
    store = Counted()
    here = Memory(store)
    there = here.other()
    here.service.held_writes.verify = there.service.held_writes.verify = False
    _flip(here, True)
    for i in range(CATCH_UP_AT_MOST + 1):
        _flip(there, i % 2 == 1)  # (alice is disabled: each flip is a revision)
    loads, catch_ups = store.loads, store.catch_ups
    _flip(here, False, login="bob")
    assert (store.loads, store.catch_ups) == (loads + 1, catch_ups)


def test_a_held_copy_that_differs_from_the_store_refuses_the_write():
    m = Memory()
    _flip(m, True)
    held = m.service.held_writes.take("acme")
    held.rules.apply([], [A.disabled_rule("acme", "alice")])  # made wrong
    m.service.held_writes.put("acme", held)
    with pytest.raises(BrokenWrite, match="rules"):
        _flip(m, False, login="bob")
    assert m.store.head("acme") == 2


def test_the_ledger_chains_each_revision_to_the_one_before():
    m = Memory()
    _flip(m, True)
    _flip(m, False)
    entries = m.store.ledger("acme")
    assert [e.revision for e in entries] == [1, 2, 3]
    assert entries[0].hash != GENESIS and len({e.hash for e in entries}) == 3
    fresh = HeldWrites()
    write(m.store, "acme", "test", "", lambda p: A.set_disabled(p, "bob", True), held=fresh)
    assert fresh.take("acme").last_hash == m.store.ledger("acme")[-1].hash


def test_a_new_key_is_stored_and_logged_without_its_secret():
    m = Memory()
    _, created = tenant_admin.create_key(m.service, OWNER, "acme", "check")
    key_id, secret = created["key_id"], created["token"].split(".", 1)[1]
    assert key_id in {k.key_id for k in m.store.keys("acme")}
    logged = m.store.ledger("acme")[-1].details["keys"]
    assert set(logged) == {key_id} and secret not in str(logged)
    _flip(m, True)  # the held keys are the stored ones (verify mode compares)


def test_every_write_names_its_use_case_in_the_ledger():
    """Settings, approval modes, keys and approvals are named use cases too (issue 27)."""
    from service.usecases import approvals as AP

    m = Memory()
    tenant_admin.update_settings(m.service, OWNER, "acme", {"step_up": True})
    AP.set_mode(m.service, OWNER, "acme", "refunds:approve", "always")
    tenant_admin.create_key(m.service, OWNER, "acme", "audit")
    _, filed = AP.file(m.service, OWNER, "acme", {"subject": "bob", "store": "shopee-sg",
                                                  "permission": "refunds:approve"})
    AP.decide(m.service, OWNER, "acme", filed["id"], None, True)
    named = [e.details.get("use_case") for e in m.store.ledger("acme")[1:]]
    assert named == ["tenant.settings", "approval.mode", "keys.write", "approval.file",
                     "approval.decide"]
