"""Time-boxed grants (issue 6): a grant with an expiry stops counting at that instant with
nobody acting; its removal is a ledger entry by system:expiry, made once however many
workers reach the instant; with the database unreachable the grant still stops counting."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.storage  # run on both databases (tests/conftest.py)

FINANCE = {"subject": "alice", "role": "finance", "stores": ["amazon-us"]}
APPROVE = ("alice", "amazon-us", "refunds", "approve")


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def _until(when: str) -> None:
    time.sleep(max(0.0, (datetime.fromisoformat(when) - datetime.now(UTC)).total_seconds()))


def _swept(owner, total: int = 1) -> dict:
    """The ledger's system:expiry page once the worker's sweeper (its own thread: no check
    writes) has written `total` entries; what it holds after 10 s otherwise."""
    deadline = time.monotonic() + 10
    while True:
        page = owner("GET", "/v1/tenants/{t}/ledger?actor=system:expiry")[1]
        if page["total"] >= total or time.monotonic() > deadline:
            return page
        time.sleep(0.05)


def test_a_role_grant_stops_counting_at_its_expiry(owner, checker):
    assert checker.check(*APPROVE) is False
    ends = _in(1.5)
    status, _ = owner("POST", "/v1/tenants/{t}/grants", {**FINANCE, "expires_at": ends,
                                                         "reason": "Singles' Day shift"})
    assert status == 200
    assert checker.check(*APPROVE) is True
    listed = owner("GET", "/v1/tenants/{t}/expiring-grants")[1]["grants"]
    assert [g["rule"] for g in listed] == ["g, user:acme:alice, role:acme:finance@acme/amazon-us"]
    assert datetime.fromisoformat(listed[0]["expires_at"]) == datetime.fromisoformat(ends)
    _until(ends)
    assert checker.check(*APPROVE) is False  # the first request after the instant
    assert owner("GET", "/v1/tenants/{t}/expiring-grants")[1]["grants"] == []
    page = _swept(owner)
    assert page["total"] == 1
    entry = page["entries"][0]
    assert entry["removed"] == ["g, user:acme:alice, role:acme:finance@acme/amazon-us"]
    rule = entry["removed"][0]
    assert entry["details"]["expiries"][rule]["after"] is None
    assert "expired" in entry["reason"]
    granted = owner("GET", "/v1/tenants/{t}/ledger?subject=alice")[1]["entries"]
    assert any(e["details"].get("expiries", {}).get(rule, {}).get("after") for e in granted)


def test_a_supplementary_permission_can_expire_and_regranting_makes_it_permanent(
        owner, checker):
    body = {"subject": "alice", "store": "amazon-us", "permission": "reports:export"}
    ends = _in(1.0)
    assert owner("POST", "/v1/tenants/{t}/permissions", {**body, "expires_at": ends})[0] == 200
    assert checker.check("alice", "amazon-us", "reports", "export") is True
    assert owner("POST", "/v1/tenants/{t}/permissions", body)[0] == 200  # no expiry now
    assert owner("GET", "/v1/tenants/{t}/expiring-grants")[1]["grants"] == []
    _until(ends)
    assert checker.check("alice", "amazon-us", "reports", "export") is True


@pytest.mark.parametrize(("path", "body", "why"), [
    ("grants", {**FINANCE, "expires_at": "2020-01-01T00:00:00+00:00"}, "future"),
    ("grants", {**FINANCE, "expires_at": "2030-01-01T00:00:00"}, "aware"),
    ("grants", {**FINANCE, "expires_at": "soon"}, "datetime"),
    ("denies", {"subject": "alice", "store": "all", "permission": "orders:view",
                "expires_at": "2099-01-01T00:00:00+00:00"}, "only grants"),
])
def test_bad_expiries_are_refused_and_change_nothing(owner, checker, path, body, why):
    before = owner("GET", "/v1/tenants/{t}/ledger")[1]["total"]
    status, error = owner("POST", f"/v1/tenants/{{t}}/{path}", body)
    assert status in (400, 422) and "expires_at" in str(error)
    assert why in str(error).lower()
    assert owner("GET", "/v1/tenants/{t}/ledger")[1]["total"] == before
    assert checker.check(*APPROVE) is False


def test_with_the_database_unreachable_an_expired_grant_still_stops(app, owner, checker,
                                                                     monkeypatch):
    from service.domain.errors import Unavailable
    from service.usecases import expiry

    ends = _in(1.0)
    owner("POST", "/v1/tenants/{t}/grants", {**FINANCE, "expires_at": ends})
    assert checker.check(*APPROVE) is True
    real_sweep = expiry.sweep
    tried = threading.Event()

    def unreachable(*_):
        tried.set()
        raise Unavailable("the policy database is unavailable")

    monkeypatch.setattr(expiry, "sweep", unreachable)
    _until(ends)
    assert checker.check(*APPROVE) is False  # withdrawn from this worker's copy
    assert tried.wait(10)  # the sweeper tried, and failed
    assert owner("GET", "/v1/tenants/{t}/ledger?actor=system:expiry")[1]["total"] == 0
    monkeypatch.setattr(expiry, "sweep", real_sweep)  # the database is back
    assert checker.check(*APPROVE) is False
    assert _swept(owner)["total"] == 1  # the sweeper tried again
