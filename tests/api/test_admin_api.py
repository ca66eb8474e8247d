"""The admin API for the policy, through the HTTP client, asserting what /check then says."""

from __future__ import annotations

import pytest

from ..support import GLOBEX_OWNER, Caller


def write(caller, method, path, body=None, expect=200):
    status, answer = caller(method, path, body)
    assert status == expect, answer
    return answer


def test_every_write_returns_a_new_revision(owner):
    first = write(owner, "POST", "/v1/tenants/{t}/stores", {"store": "ebay-uk"}, 201)["revision"]
    second = write(owner, "POST", "/v1/tenants/{t}/roles",
                   {"role": "auditor", "permissions": ["reports:view"]}, 201)["revision"]
    assert second == first + 1


def test_role_template_lifecycle(owner, checker):
    write(owner, "POST", "/v1/tenants/{t}/roles",
          {"role": "returns", "permissions": ["refunds:view", "refunds:approve"]}, 201)
    status, roles = owner("GET", "/v1/tenants/{t}/roles")
    assert {"role": "returns", "permissions": ["refunds:approve", "refunds:view"],
            "limits": {}} in roles["roles"]
    # one template, granted in two stores: no permission is copied per store (R6)
    write(owner, "POST", "/v1/tenants/{t}/grants",
          {"subject": "frank", "role": "returns", "stores": ["amazon-us"]})
    assert checker.check("frank", "amazon-us", "refunds", "approve") is True
    write(owner, "PUT", "/v1/tenants/{t}/roles/returns", {"permissions": ["refunds:view"]})
    assert checker.check("frank", "amazon-us", "refunds", "approve") is False
    assert checker.check("frank", "amazon-us", "refunds", "view") is True
    # a granted role cannot be deleted; revoke first
    status, body = owner("DELETE", "/v1/tenants/{t}/roles/returns")
    assert status == 409 and "frank" in str(body["errors"])
    write(owner, "POST", "/v1/tenants/{t}/grants/revoke",
          {"subject": "frank", "role": "returns", "stores": ["amazon-us"]})
    write(owner, "DELETE", "/v1/tenants/{t}/roles/returns")
    status, roles = owner("GET", "/v1/tenants/{t}/roles")
    assert "returns" not in {r["role"] for r in roles["roles"]}
    assert checker.check("frank", "amazon-us", "refunds", "view") is False


@pytest.mark.parametrize("body,field", [
    ({"role": "x", "permissions": ["orders:fly"]}, "permissions[0]"),
    ({"role": "x", "permissions": ["staff:manage"]}, "permissions[0]"),
    ({"role": "x", "permissions": []}, "permissions"),
    ({"role": "X Y", "permissions": ["orders:view"]}, "role"),
    ({"role": "customer-service", "permissions": ["orders:view"]}, "role"),
])
def test_bad_roles_are_refused(owner, body, field):
    before = owner("GET", "/v1/tenants/{t}/policy")[1]
    status, answer = owner("POST", "/v1/tenants/{t}/roles", body)
    assert 400 <= status < 500
    assert field in str(answer["errors"])
    assert owner("GET", "/v1/tenants/{t}/policy")[1] == before


def test_grant_in_all_stores_and_to_a_department(owner, checker):
    write(owner, "POST", "/v1/tenants/{t}/grants",
          {"subject": "grace", "role": "warehouse", "stores": "all"})
    assert checker.check("grace", "shopee-sg", "orders", "ship") is True
    write(owner, "POST", "/v1/tenants/{t}/grants",
          {"department": "customer-care", "role": "marketing", "stores": ["amazon-us"]})
    assert checker.check("alice", "amazon-us", "coupons", "manage") is True  # member (R5)
    assert checker.check("alice", "tmall-flagship", "coupons", "manage") is False
    policy = owner("GET", "/v1/tenants/{t}/policy")[1]
    assert {"subject": "grace", "role": "warehouse", "stores": "all"} in policy["grants"]


def test_batch_grant_is_atomic_and_names_every_unknown_store(owner, checker):
    before = owner("GET", "/v1/tenants/{t}/policy")[1]
    status, body = owner("POST", "/v1/tenants/{t}/grants", {
        "subject": "frank", "role": "finance",
        "stores": ["amazon-us", "nope-1", "tmall-flagship", "nope-2"]})
    assert status == 404 and body["errors"]["stores"] == ["nope-1", "nope-2"]
    assert owner("GET", "/v1/tenants/{t}/policy")[1] == before
    assert checker.check("frank", "amazon-us", "finance", "view") is False


def test_supplementary_permission_and_deny(owner, checker):
    write(owner, "POST", "/v1/tenants/{t}/permissions",
          {"subject": "frank", "store": "amazon-us", "permission": "reports:export"})
    assert checker.check("frank", "amazon-us", "reports", "export") is True
    write(owner, "POST", "/v1/tenants/{t}/denies",
          {"subject": "frank", "store": "amazon-us", "permission": "reports:export"})
    assert checker.check("frank", "amazon-us", "reports", "export") is False  # deny wins (R8)
    write(owner, "POST", "/v1/tenants/{t}/denies/revoke",
          {"subject": "frank", "store": "amazon-us", "permission": "reports:export"})
    assert checker.check("frank", "amazon-us", "reports", "export") is True
    write(owner, "POST", "/v1/tenants/{t}/permissions/revoke",
          {"subject": "frank", "store": "amazon-us", "permission": "reports:export"})
    assert checker.check("frank", "amazon-us", "reports", "export") is False
    status, _ = owner("POST", "/v1/tenants/{t}/permissions/revoke",
                      {"subject": "frank", "store": "amazon-us", "permission": "reports:export"})
    assert status == 404


def test_department_deny_in_every_store(owner, checker):
    write(owner, "POST", "/v1/tenants/{t}/denies",
          {"department": "customer-care", "store": "all", "permission": "chat:reply"})
    assert checker.check("alice", "amazon-us", "chat", "reply") is False
    assert checker.check("heidi", "tmall-flagship", "chat", "reply") is False


def test_owner_only_permission_cannot_be_granted(owner):
    status, body = owner("POST", "/v1/tenants/{t}/permissions",
                         {"subject": "frank", "store": "amazon-us",
                          "permission": "billing:purchase"})
    assert status == 422 and "owner-only" in str(body)


def test_store_assignment_and_membership(owner, checker):
    assert checker.check("frank", "tmall-flagship", "orders", "view") is False
    write(owner, "POST", "/v1/tenants/{t}/grants",
          {"subject": "frank", "role": "warehouse", "stores": "all"})
    assert checker.check("frank", "tmall-flagship", "orders", "view") is False  # not assigned
    write(owner, "PUT", "/v1/tenants/{t}/subaccounts/frank/stores",
          {"stores": ["amazon-us", "tmall-flagship"]})
    assert checker.check("frank", "tmall-flagship", "orders", "view") is True
    write(owner, "PUT", "/v1/tenants/{t}/departments/customer-care/members/frank", {})
    assert checker.check("frank", "tmall-flagship", "chat", "reply") is True
    write(owner, "DELETE", "/v1/tenants/{t}/departments/customer-care/members/frank")
    assert checker.check("frank", "tmall-flagship", "chat", "reply") is False


def test_disable_and_enable_keeps_grants(owner, checker):
    write(owner, "PUT", "/v1/tenants/{t}/subaccounts/alice/status", {"disabled": True})
    assert checker.check("alice", "amazon-us", "orders", "view") is False
    write(owner, "PUT", "/v1/tenants/{t}/subaccounts/alice/status", {"disabled": False})
    assert checker.check("alice", "amazon-us", "orders", "view") is True


def test_owner_is_not_a_sub_account(owner):
    status, body = owner("PUT", "/v1/tenants/{t}/subaccounts/owner/status", {"disabled": True})
    assert status == 422 and "reserved" in str(body)


def test_export_is_sorted_casbin_csv(owner):
    response = owner.client.get("/v1/tenants/acme/export.csv", headers=owner.headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).splitlines()
    assert lines == sorted(lines) and "p, user:acme:owner, acme, *, *, allow" in lines
    assert not any("globex" in line for line in lines)


def test_create_tenant_returns_working_keys(client, admin):
    status, body = admin("POST", "/v1/tenants", {"tenant": "initech", "name": "Initech"})
    assert status == 201 and body["revision"] >= 1
    new_owner = Caller(client, body["owner_key"], "initech")
    write(new_owner, "POST", "/v1/tenants/{t}/stores", {"store": "amazon-us"}, 201)
    new_check = Caller(client, body["check_key"])
    assert new_check.check("owner", "amazon-us", "billing", "purchase") is True
    status, _ = admin("POST", "/v1/tenants", {"tenant": "initech"})
    assert status == 409


ROUTES = [
    ("POST", "/v1/tenants/acme/stores", {"store": "x1"}),
    ("POST", "/v1/tenants/acme/roles", {"role": "r1", "permissions": ["orders:view"]}),
    ("PUT", "/v1/tenants/acme/roles/operator", {"permissions": ["orders:view"]}),
    ("DELETE", "/v1/tenants/acme/roles/unheld", None),
    ("POST", "/v1/tenants/acme/grants",
     {"subject": "frank", "role": "operator", "stores": "all"}),
    ("POST", "/v1/tenants/acme/grants/revoke",
     {"subject": "dave", "role": "operator", "stores": "all"}),
    ("POST", "/v1/tenants/acme/permissions",
     {"subject": "frank", "store": "amazon-us", "permission": "orders:view"}),
    ("POST", "/v1/tenants/acme/permissions/revoke",
     {"subject": "bob", "store": "shopee-sg", "permission": "refunds:approve"}),
    ("POST", "/v1/tenants/acme/denies",
     {"subject": "frank", "store": "all", "permission": "orders:view"}),
    ("POST", "/v1/tenants/acme/denies/revoke",
     {"subject": "dave", "store": "tmall-flagship", "permission": "prices:change"}),
    ("PUT", "/v1/tenants/acme/subaccounts/alice/stores", {"stores": ["amazon-us"]}),
    ("PUT", "/v1/tenants/acme/subaccounts/alice/status", {"disabled": True}),
    ("PUT", "/v1/tenants/acme/departments/customer-care/members/frank", {}),
    ("DELETE", "/v1/tenants/acme/departments/customer-care/members/alice", None),
    ("GET", "/v1/tenants/acme/policy", None),
    ("GET", "/v1/tenants/acme/roles", None),
    ("GET", "/v1/tenants/acme/export.csv", None),
    ("DELETE", "/v1/tenants/acme/stores/shopee-sg", None),
    ("POST", "/v1/tenants/acme/subaccounts",
     {"login": "new1", "display_name": "New", "email": "n@example.com", "stores": ["amazon-us"]}),
    ("GET", "/v1/tenants/acme/subaccounts", None),
    ("GET", "/v1/tenants/acme/subaccounts/alice", None),
    ("PATCH", "/v1/tenants/acme/subaccounts/alice", {"note": "x"}),
    ("PUT", "/v1/tenants/acme/subaccounts/alice/default-store", {"store": "tmall-flagship"}),
    ("POST", "/v1/tenants/acme/subaccounts/batch-stores",
     {"mode": "add", "subjects": ["alice"], "stores": ["shopee-sg"]}),
    ("POST", "/v1/tenants/acme/departments", {"department": "ops"}),
    ("GET", "/v1/tenants/acme/departments", None),
    ("PATCH", "/v1/tenants/acme/departments/accounting", {"name": "Finance team"}),
    ("GET", "/v1/tenants/acme/settings", None),
    ("PATCH", "/v1/tenants/acme/settings", {"step_up": True}),
]


@pytest.mark.parametrize("method,path,body", ROUTES)
def test_foreign_and_check_keys_are_refused_and_change_nothing(client, owner, method, path,
                                                               body):
    write(owner, "POST", "/v1/tenants/{t}/roles",
          {"role": "unheld", "permissions": ["reports:view"]}, 201)
    before = owner.client.get("/v1/tenants/acme/export.csv", headers=owner.headers).data
    for token in (GLOBEX_OWNER, "acme-check.dev-acme-check-secret-0001"):
        status, _ = Caller(client, token)(method, path, body)
        assert status == 403
    after = owner.client.get("/v1/tenants/acme/export.csv", headers=owner.headers).data
    assert after == before
    status, _ = owner(method, path, body)  # and the route works for its owner
    assert status in (200, 201)


def test_unknown_tenant_for_admin_is_404(admin):
    status, body = admin("POST", "/v1/tenants/nobody/stores", {"store": "x"})
    assert status == 404 and "tenant" in body["errors"]


def test_routing_errors_have_the_json_shape(client):
    response = client.get("/no/such/route")
    assert response.status_code == 404 and response.get_json()["code"] == 404
    response = client.get("/check")
    assert response.status_code == 405 and response.get_json()["code"] == 405
