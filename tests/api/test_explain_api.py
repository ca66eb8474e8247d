"""POST /explain: the decision and its path, on the seed policy (R5-R8, R10, R12)."""

from __future__ import annotations

ALICE = {"subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"}


def test_an_allow_through_a_department_role(checker):
    status, body = checker("POST", "/explain", ALICE)
    assert status == 200 and body["allowed"] is True and body["denies"] == []
    path = body["allows"][0]
    assert path["kind"] == "role" and path["principal"] == "department customer-care"
    assert path["role"] == "customer-service" and path["scope"] == "all stores"
    assert "g, user:acme:alice, dept:acme:customer-care" in path["rules"]
    assert body["revision"] >= 1 and "customer-service" in body["message"]
    assert body["reason"] == "granted" and body["requires"] is None


def test_a_deny_names_what_it_overrode(owner, checker):
    assert owner("POST", "/v1/tenants/{t}/denies", {
        "subject": "alice", "store": "amazon-us", "permission": "orders:view"})[0] == 200
    status, body = checker("POST", "/explain", ALICE)
    assert body["allowed"] is False
    assert body["denies"][0]["kind"] == "deny"
    assert body["denies"][0]["rules"] == [
        "p, user:acme:alice, acme/amazon-us, orders, view, deny"]
    assert body["allows"] and body["allows"][0]["role"] == "customer-service"  # overridden
    assert checker.check("alice", "amazon-us", "orders", "view") is False


def test_not_assigned_unknown_and_disabled(owner, checker):
    status, body = checker("POST", "/explain", {**ALICE, "store": "shopee-sg"})
    assert body["allowed"] is False and "not assigned" in body["message"]
    assert body["reason"] == "not_assigned"
    status, body = checker("POST", "/explain", {**ALICE, "store": "nowhere"})
    assert body["allowed"] is False and "not a store" in body["message"]
    owner("PUT", "/v1/tenants/{t}/subaccounts/alice/status", {"disabled": True})
    status, body = checker("POST", "/explain", ALICE)
    assert body["allowed"] is False and body["denies"][0]["kind"] == "disabled"


def test_bad_input_is_named_like_check(checker):
    status, body = checker("POST", "/explain", {**ALICE, "subject": "a,b"})
    assert status == 422 and "subject" in body["errors"]["json"]


def test_every_seed_decision_is_explained_consistently(checker, app):
    import itertools

    from service.domain import catalogue

    subjects = ["alice", "bob", "carol", "dave", "owner", "judy", "nobody"]
    stores = ["amazon-us", "tmall-flagship", "shopee-sg"]
    for subject, store, perm in itertools.product(subjects, stores, catalogue.PERMISSIONS):
        body = {"subject": subject, "store": store, "object": perm.area,
                "action": perm.action}
        status, explained = checker("POST", "/explain", body)
        assert explained["allowed"] == checker.check(subject, store, perm.area, perm.action)
