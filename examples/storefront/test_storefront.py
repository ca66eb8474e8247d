"""The storefront example against the real service (gunicorn on a free loopback port)."""

from __future__ import annotations

import pytest
import requests

from examples.storefront.app import create_app
from harness import ACME_CHECK, ACME_OWNER, bearer
from harness.servers import seeded_sqlite_instance


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    instance = seeded_sqlite_instance(tmp_path_factory.mktemp("storefront"))
    yield instance
    instance.stop()


@pytest.fixture
def storefront(service):
    return create_app(service.url, ACME_CHECK, tenant="acme").test_client()


def test_staff_see_only_what_the_policy_allows(storefront):
    ok = storefront.get("/stores/amazon-us/orders", headers={"X-Staff": "alice"})
    assert ok.status_code == 200 and ok.get_json()["decided_at_revision"] >= 1
    # alice is not assigned shopee-sg (R14); nobody is unknown
    assert storefront.get("/stores/shopee-sg/orders",
                          headers={"X-Staff": "alice"}).status_code == 403
    assert storefront.get("/stores/amazon-us/orders",
                          headers={"X-Staff": "nobody"}).status_code == 403


def test_batch_menu_and_step_up(service, storefront):
    menu = storefront.get("/stores/shopee-sg/menu", headers={"X-Staff": "bob"}).get_json()
    assert menu["menu"] == ["orders", "refunds"]  # staff:manage is owner-only (R13)
    approve = "/stores/shopee-sg/refunds/r-1/approve"
    assert storefront.post(approve, headers={"X-Staff": "bob"}).status_code == 200
    turned_on = requests.patch(f"{service.url}/v1/tenants/acme/settings",
                               json={"step_up": True}, headers=bearer(ACME_OWNER), timeout=5)
    assert turned_on.status_code == 200
    try:
        assert storefront.post(approve, headers={"X-Staff": "bob"}).status_code == 403
        assert storefront.post(approve, headers={"X-Staff": "bob",
                                                 "X-Second-Factor": "1"}).status_code == 200
    finally:
        requests.patch(f"{service.url}/v1/tenants/acme/settings", json={"step_up": False},
                       headers=bearer(ACME_OWNER), timeout=5)


def test_a_service_outage_locks_the_storefront(storefront, service):
    down = create_app("http://127.0.0.1:9", ACME_CHECK).test_client()  # nothing listens
    assert down.get("/stores/amazon-us/orders", headers={"X-Staff": "alice"}).status_code == 403
    wrong_key = create_app(service.url, "acme-check.not-the-right-secret-00").test_client()
    assert wrong_key.get("/stores/amazon-us/orders",
                         headers={"X-Staff": "alice"}).status_code == 403


def test_a_refund_over_the_limit_goes_through_an_approval(service, storefront):
    """R22-R24 end to end: bob may refund up to 200.00 in amazon-us; 250.00 needs a
    manager; carol (approvals:decide there) approves; the refund goes through once."""
    owner = {"headers": bearer(ACME_OWNER), "timeout": 5}
    base = f"{service.url}/v1/tenants/acme"
    roles = requests.get(f"{base}/roles", **owner).json()["roles"]
    held = next(r["permissions"] for r in roles if r["role"] == "customer-service")
    for method, path, body in (
            ("PUT", "/roles/customer-service", {"permissions": held + ["refunds:approve"],
                                                "limits": {"refunds:approve": "200.00"}}),
            ("PUT", "/subaccounts/bob/stores", {"stores": ["shopee-sg", "amazon-us"]}),
            ("POST", "/permissions", {"subject": "carol", "store": "amazon-us",
                                      "permission": "approvals:decide"}),
            ("PUT", "/approval-modes/refunds:approve", {"mode": "over_limit"})):
        answer = requests.request(method, base + path, json=body, **owner)
        assert answer.status_code == 200, answer.text
    refund = "/stores/amazon-us/refunds/r-7/approve"
    bob = {"X-Staff": "bob"}
    assert storefront.post(refund, json={"amount": "150.00"}, headers=bob).status_code == 200
    over = storefront.post(refund, json={"amount": "250.00"}, headers=bob)
    assert over.status_code == 403 and over.get_json() == {
        "error": "forbidden", "reason": "limit_exceeded", "requires": "approval",
        "ask": "/stores/amazon-us/refunds/r-7/approval"}
    asked = storefront.post(over.get_json()["ask"], json={"amount": "250.00"}, headers=bob)
    assert asked.status_code == 201, asked.get_json()
    approval = asked.get_json()["approval"]
    queue = storefront.get("/approvals", headers={"X-Staff": "carol"}).get_json()
    assert [a["id"] for a in queue["approvals"]] == [approval]
    assert storefront.post(f"/approvals/{approval}/decision", json={"approve": True},
                           headers=bob).status_code == 403  # never the requester
    decided = storefront.post(f"/approvals/{approval}/decision", json={"approve": True},
                              headers={"X-Staff": "carol"})
    assert decided.status_code == 200 and decided.get_json()["state"] == "approved"
    with_it = {"amount": "250.00", "approval": approval}
    assert storefront.post(refund, json=with_it, headers=bob).status_code == 200
    again = storefront.post(refund, json=with_it, headers=bob)
    assert again.status_code == 403 and again.get_json()["reason"] == "approval_used"
