"""Amount limits (R22), reasons (R23), approvals (R24) and time-boxed grants as unit tests:
the use cases over the in-memory store, decisions through the service's own path (the
worker's replica). The HTTP contract of the same routes is tests/api/test_approvals.py's."""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.domain import clock
from service.domain import policy_admin as A
from service.domain.errors import Conflict, Forbidden, InvalidInput
from service.usecases import approvals as AP
from service.usecases import expiry
from service.usecases import policy_edits as P
from service.usecases import subaccounts as U

from .memory import Memory, checker, owner

OWNER, CHECK = owner(), checker()
REFUND = "refunds:approve"


@pytest.fixture
def m() -> Memory:
    """customer-service holds refunds:approve up to 200.00; bob is in amazon-us and
    shopee-sg through the role alone; carol decides approvals in amazon-us only."""
    m = Memory()
    held = m.store.read("acme")
    permissions = sorted({f"{r.values[2]}:{r.values[3]}" for r in held.rules()
                          if r.ptype == "p" and r.values[0] == "role:acme:customer-service"})
    P.set_role_permissions(m.service, OWNER, "acme", "customer-service",
                           permissions + [REFUND], {REFUND: "200.00"})
    P.remove_direct(m.service, OWNER, "acme", A.Grantee("user", "bob"), "shopee-sg", REFUND,
                    "allow")
    U.set_stores(m.service, OWNER, "acme", "bob", ["shopee-sg", "amazon-us"])
    P.add_direct(m.service, OWNER, "acme", A.Grantee("user", "carol"), "amazon-us",
                 "approvals:decide", "allow")
    return m


def _refund(m: Memory, subject: str, store: str, amount: str = "", **kw) -> str:
    return m.answer("acme", subject, store, REFUND, amount=amount, **kw)


def _file(m: Memory, subject: str, store: str, amount: str, **kw) -> dict:
    return AP.file(m.service, CHECK, "acme", {"subject": subject, "store": store,
                                              "permission": REFUND, "amount": amount, **kw})[1]


def test_r22_r23_a_limit_allows_up_to_it_and_names_why_not(m):
    assert [_refund(m, "bob", "amazon-us", a) for a in ("150.00", "200", "200.01", "")] == [
        "granted", "granted", "limit_exceeded", "amount_required"]
    assert m.service.decider.requires("acme", "refunds", "approve", "limit_exceeded") is None
    AP.set_mode(m.service, OWNER, "acme", REFUND, "over_limit")
    assert m.service.decider.requires("acme", "refunds", "approve",
                                      "limit_exceeded") == "approval"


def test_r24_a_request_is_decided_by_someone_who_may_and_used_once(m):
    AP.set_mode(m.service, OWNER, "acme", REFUND, "over_limit")
    with pytest.raises(Conflict):  # within the limit there is nothing to approve
        _file(m, "bob", "amazon-us", "150.00")
    request = _file(m, "bob", "amazon-us", "250.00", note="order 1001")
    elsewhere = _file(m, "bob", "shopee-sg", "300.00")
    assert request["state"] == "pending"
    assert _refund(m, "bob", "amazon-us", "250.00", approval=request["id"]) == \
        "approval_pending"
    query = {"page": 1, "per_page": 50}
    _, queue = AP.find(m.service, CHECK, "acme", {**query, "approver": "carol"})
    assert [a["id"] for a in queue] == [request["id"]]
    assert AP.find(m.service, CHECK, "acme", {**query, "approver": "bob"}) == (0, [])
    with pytest.raises(Forbidden):  # not one's own
        AP.decide(m.service, CHECK, "acme", request["id"], "bob", True)
    with pytest.raises(Forbidden, match="shopee-sg"):  # not where one may not decide
        AP.decide(m.service, CHECK, "acme", elsewhere["id"], "carol", True)
    with pytest.raises(InvalidInput):  # a storefront names the approver
        AP.decide(m.service, CHECK, "acme", request["id"], None, True)
    _, approved = AP.decide(m.service, CHECK, "acme", request["id"], "carol", True)
    assert (approved["state"], approved["decided_by"]) == ("approved", "carol")
    with pytest.raises(Conflict):  # decided once
        AP.decide(m.service, CHECK, "acme", request["id"], "carol", False)
    assert _refund(m, "bob", "amazon-us", "250.01", approval=request["id"]) == \
        "approval_mismatch"
    assert _refund(m, "alice", "amazon-us", "250.00", approval=request["id"]) == \
        "approval_mismatch"
    assert _refund(m, "bob", "amazon-us", "250.00") == "limit_exceeded"
    assert _refund(m, "bob", "amazon-us", "250.00", approval=request["id"]) == "granted"
    assert _refund(m, "bob", "amazon-us", "250.00", approval=request["id"]) == \
        "approval_used"
    assert _refund(m, "bob", "amazon-us", "10.00", approval="nosuch") == "approval_not_valid"
    AP.decide(m.service, OWNER, "acme", elsewhere["id"], None, False, "not this one")
    assert _refund(m, "bob", "shopee-sg", "300.00", approval=elsewhere["id"]) == \
        "approval_rejected"
    _, used = AP.find(m.service, OWNER, "acme", {**query, "state": "used"})
    assert [a["id"] for a in used] == [request["id"]]
    actors = {e.revision: e for e in m.store.ledger("acme")}
    assert len(actors) == m.store.head("acme")


def test_r24_two_workers_racing_to_use_one_approval_allow_it_once(m):
    AP.set_mode(m.service, OWNER, "acme", REFUND, "over_limit")
    request = _file(m, "bob", "amazon-us", "250.00")
    AP.decide(m.service, CHECK, "acme", request["id"], "carol", True)
    other = m.other()
    answers = [w.answer("acme", "bob", "amazon-us", REFUND, amount="250.00",
                        approval=request["id"]) for w in (other, m)]
    assert answers == ["granted", "approval_used"]


def test_r24_an_approval_expires_unused(m, monkeypatch):
    AP.set_mode(m.service, OWNER, "acme", REFUND, "always")
    request = _file(m, "bob", "amazon-us", "100.00", expires_in_minutes=5)
    AP.decide(m.service, CHECK, "acme", request["id"], "carol", True)
    later = clock.utcnow() + timedelta(minutes=6)
    monkeypatch.setattr(AP, "_now", lambda: later)
    assert _refund(m, "bob", "amazon-us", "100.00", approval=request["id"]) == \
        "approval_expired"


def test_a_time_boxed_grant_stops_at_its_end_and_the_sweep_only_tidies(m, monkeypatch):
    ends = clock.utcnow() + timedelta(hours=1)
    P.add_direct(m.service, OWNER, "acme", A.Grantee("user", "frank"), "amazon-us",
                 "finance:withdraw", "allow", ends)
    assert m.allows("acme", "frank", "amazon-us", "finance:withdraw")
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start + 3601)
    head = m.store.head("acme")
    assert not m.allows("acme", "frank", "amazon-us", "finance:withdraw")  # withdrawn here
    assert m.store.head("acme") == head  # by no revision: the end is part of the decision
    [swept] = expiry.sweep(m.store)
    assert [r.csv() for r in swept.change.removed] == [
        "p, user:acme:frank, acme/amazon-us, finance, withdraw, allow"]
    assert m.store.ledger("acme")[-1].details["expiries"]
    assert expiry.sweep(m.store) == []  # once
    assert not m.other().allows("acme", "frank", "amazon-us", "finance:withdraw")
