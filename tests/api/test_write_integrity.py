"""Every write is one transaction that nothing inside it can end early (issue 16).

The defect these guard: an applied import read the decision log inside its write, that
read rolled the session back (undoing the head update and releasing its lock), the rest
committed on its own, and from then on the head stood behind the ledger: every later
write was a 409 and workers disagreed on the revision.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.domain.errors import InvalidInput
from service.domain.revisions import BrokenWrite
from service.domain.rules import Rule
from service.storage import policy_store
from service.storage.models import LedgerEntry, TenantHead, db
from service.usecases.unit_of_work import write

pytestmark = pytest.mark.storage  # run on both databases (tests/conftest.py)

ALICE_EXPORT = "p, user:acme:alice, acme/amazon-us, reports, export, allow\n"


def _head_and_ledger(tenant: str = "acme") -> tuple[int, int]:
    head = db.session.execute(select(TenantHead.revision)
                              .where(TenantHead.tenant == tenant)).scalar_one()
    logged = db.session.execute(select(func.max(LedgerEntry.revision))
                                .where(LedgerEntry.tenant == tenant)).scalar_one()
    db.session.rollback()
    return head, logged


def _export(owner) -> str:
    return owner.client.get("/v1/tenants/acme/export.csv", headers=owner.headers).data.decode()


def test_writes_after_an_applied_import_succeed_and_the_head_keeps_up(app, owner, checker):
    # a logged decision, so that planning the import has something to read
    assert checker.check("alice", "amazon-us", "reports", "export") is False
    app.extensions["authz"].decision_log.flush()
    status, applied = owner("POST", "/v1/tenants/{t}/import",
                            {"csv": _export(owner) + ALICE_EXPORT, "dry_run": False})
    assert status == 200, applied
    assert applied["recent_decisions"]["flips"] == 1  # the plan did read the log
    assert _head_and_ledger() == (applied["revision"],) * 2
    status, body = owner("PATCH", "/v1/tenants/{t}/subaccounts/alice", {"note": "x"})
    assert status == 200, body
    assert body["revision"] == applied["revision"] + 1
    status, body = owner("POST", "/v1/tenants/{t}/stores", {"store": "after-import"})
    assert status == 201, body
    assert _head_and_ledger() == (body["revision"],) * 2
    # a second import, a write after it, on the same session
    status, again = owner("POST", "/v1/tenants/{t}/import",
                          {"csv": _export(owner).replace(ALICE_EXPORT, ""), "dry_run": False})
    assert status == 200, again
    assert owner("PATCH", "/v1/tenants/{t}/subaccounts/alice", {"note": "y"})[0] == 200
    assert checker.check("alice", "amazon-us", "reports", "export") is False


def test_an_edit_that_ends_its_transaction_is_refused_whole(app):
    before = _head_and_ledger()
    rule = Rule("p", ("user:acme:alice", "acme/amazon-us", "reports", "export", "allow"))

    def rolls_back(policy):
        policy.add(rule)
        db.session.rollback()  # what the decision-log read used to do

    def commits(policy):
        policy.add(rule)
        db.session.commit()

    for edit in (rolls_back, commits):
        with pytest.raises(BrokenWrite):
            write(policy_store.SQL, "acme", "test", "", edit)
        assert _head_and_ledger() == before
        assert rule not in policy_store.read("acme")


def test_every_write_is_held_to_the_invariants(app):
    """Storage refuses what the API would never produce, whatever the caller."""
    before = _head_and_ledger()
    cases = [
        lambda p: p.remove(Rule("p", ("user:acme:owner", "acme", "*", "*", "allow"))),
        lambda p: p.add(Rule("g", ("user:acme:alice", "acme/ghost"))),
        lambda p: p.add(Rule("g", ("user:acme:alice", "role:acme:phantom@acme"))),
        lambda p: p.add(Rule("g2", ("acme/all", "acme"))),
        lambda p: p.add(Rule("p", ("user:acme:alice", "acme", "reports", "export", "allow"))),
        lambda p: p.add(Rule("g", ("user:acme:nobody", "acme/amazon-us"))),
    ]
    for edit in cases:
        with pytest.raises(InvalidInput):
            write(policy_store.SQL, "acme", "test", "", edit)
    assert _head_and_ledger() == before
