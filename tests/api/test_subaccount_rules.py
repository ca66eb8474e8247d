"""One test per rule of SUBACCOUNT_RULES.md: the owner drives the API, and the assertion is
what a storefront service then gets from /check."""

from __future__ import annotations

from ..support import ADMIN, GLOBEX_CHECK, GLOBEX_OWNER, Caller


def ok(result, expect=(200, 201)):
    status, body = result
    assert status in (expect if isinstance(expect, tuple) else (expect,)), body
    return body


def new_sub_account(owner, login, stores, **extra):
    return ok(owner("POST", "/v1/tenants/{t}/subaccounts", {
        "login": login, "display_name": login.title(), "email": f"{login}@example.com",
        "stores": stores, **extra}), 201)["sub_account"]


def test_r1_nothing_of_one_tenant_is_visible_to_or_grants_in_another(client, owner, checker):
    globex_owner = Caller(client, GLOBEX_OWNER, "globex")
    for method, path in (("GET", "/v1/tenants/acme/subaccounts"),
                         ("GET", "/v1/tenants/acme/subaccounts/alice"),
                         ("DELETE", "/v1/tenants/acme/stores/amazon-us")):
        assert globex_owner(method, path)[0] == 403
    # globex cannot name acme's sub-accounts or stores in its own grants: they do not exist there
    status, body = globex_owner("POST", "/v1/tenants/globex/grants",
                                {"subject": "frank", "role": "operator", "stores": "all"})
    assert status == 404
    status, body = globex_owner("POST", "/v1/tenants/globex/subaccounts", {
        "login": "spy", "display_name": "Spy", "email": "s@example.com",
        "stores": ["tmall-flagship"]})
    assert status == 404 and "stores" in body["errors"]
    assert Caller(client, GLOBEX_CHECK).check("owner", "tmall-flagship", "orders", "view") is False


def test_r2_a_store_is_a_domain_unique_per_tenant(owner, client):
    ok(owner("POST", "/v1/tenants/{t}/stores", {"store": "lazada-my"}), 201)
    assert owner("POST", "/v1/tenants/{t}/stores", {"store": "lazada-my"})[0] == 409
    # another tenant may have a store of the same id
    ok(Caller(client, GLOBEX_OWNER)("POST", "/v1/tenants/globex/stores",
                                     {"store": "lazada-my"}), 201)


def test_r3_the_owner_holds_everything_in_its_stores_and_cannot_lose_it(owner, checker):
    ok(owner("POST", "/v1/tenants/{t}/stores", {"store": "new-store"}), 201)
    assert checker.check("owner", "new-store", "finance", "withdraw") is True
    assert checker.check("owner", "amazon-us", "billing", "purchase") is True
    for method, path, body in (
        ("PUT", "/v1/tenants/{t}/subaccounts/owner/status", {"disabled": True}),
        ("POST", "/v1/tenants/{t}/denies", {"subject": "owner", "store": "all",
                                            "permission": "orders:view"}),
        ("PUT", "/v1/tenants/{t}/departments/customer-care/members/owner", {}),
    ):
        assert 400 <= owner(method, path, body)[0] < 500
    assert checker.check("owner", "amazon-us", "orders", "view") is True


def test_r4_sub_account_profile(owner):
    created = new_sub_account(owner, "mia", ["amazon-us", "shopee-sg"], phone="+65 1234 5678",
                              note="weekend shift")
    assert created["status"] == "active" and created["stores"] == ["amazon-us", "shopee-sg"]
    assert created["default_store"] == "amazon-us" and created["phone"] == "+65 1234 5678"
    body = ok(owner("PATCH", "/v1/tenants/{t}/subaccounts/mia", {"display_name": "Mia Wong",
                                                                 "email": "mia@acme.test"}))
    assert body["sub_account"]["display_name"] == "Mia Wong"
    assert ok(owner("GET", "/v1/tenants/{t}/subaccounts/mia"))["email"] == "mia@acme.test"
    status, body = owner("PATCH", "/v1/tenants/{t}/subaccounts/mia", {"email": "not-an-email"})
    assert status == 422 and "email" in body["errors"]["json"]


def test_r5_a_department_role_applies_to_every_member(owner, checker):
    ok(owner("POST", "/v1/tenants/{t}/departments", {"department": "ops", "name": "Ops"}), 201)
    new_sub_account(owner, "nia", ["tmall-flagship"], departments=["ops"])
    new_sub_account(owner, "omar", ["tmall-flagship"])
    ok(owner("POST", "/v1/tenants/{t}/grants",
             {"department": "ops", "role": "warehouse", "stores": ["tmall-flagship"]}))
    assert checker.check("nia", "tmall-flagship", "orders", "ship") is True
    assert checker.check("omar", "tmall-flagship", "orders", "ship") is False
    ok(owner("PUT", "/v1/tenants/{t}/departments/ops/members/omar", {}))
    assert checker.check("omar", "tmall-flagship", "orders", "ship") is True
    ok(owner("PATCH", "/v1/tenants/{t}/departments/ops", {"name": "Operations"}))
    departments = ok(owner("GET", "/v1/tenants/{t}/departments"))["departments"]
    assert {"department": "ops", "name": "Operations", "members": ["nia", "omar"]} in departments


def test_r6_builtin_templates_for_new_tenants_granted_per_store_or_everywhere(client, admin):
    created = ok(admin("POST", "/v1/tenants", {"tenant": "initech"}), 201)
    owner = Caller(client, created["owner_key"], "initech")
    check = Caller(client, created["check_key"])
    roles = {r["role"] for r in ok(owner("GET", "/v1/tenants/{t}/roles"))["roles"]}
    assert roles == {"customer-service", "operator", "marketing", "finance", "warehouse",
                     "designer", "store-manager"}
    for store in ("s1", "s2", "s3"):
        ok(owner("POST", "/v1/tenants/{t}/stores", {"store": store}), 201)
    new_sub_account(owner, "pat", ["s1", "s2", "s3"],
                    roles=[{"role": "designer", "stores": ["s1", "s2"]}])
    new_sub_account(owner, "quinn", ["s1", "s3"], roles=[{"role": "designer", "stores": "all"}])
    assert [check.check("pat", s, "products", "edit") for s in ("s1", "s2", "s3")] == \
        [True, True, False]
    assert [check.check("quinn", s, "products", "edit") for s in ("s1", "s2", "s3")] == \
        [True, False, True]  # tenant-wide, but quinn acts only in its stores (R14)
    # editing the template changes it in every store at once
    ok(owner("PUT", "/v1/tenants/{t}/roles/designer", {"permissions": ["products:view"]}))
    assert check.check("pat", "s1", "products", "edit") is False


def test_r7_supplementary_permission_on_top_of_roles(owner, checker):
    assert checker.check("frank", "amazon-us", "refunds", "approve") is False
    ok(owner("POST", "/v1/tenants/{t}/permissions",
             {"subject": "frank", "store": "amazon-us", "permission": "refunds:approve"}))
    assert checker.check("frank", "amazon-us", "refunds", "approve") is True
    assert checker.check("frank", "amazon-us", "orders", "ship") is True  # role still applies


def test_r8_explicit_deny_wins_over_roles(owner, checker):
    assert checker.check("heidi", "tmall-flagship", "refunds", "approve") is True
    ok(owner("POST", "/v1/tenants/{t}/denies",
             {"subject": "heidi", "store": "tmall-flagship", "permission": "refunds:approve"}))
    assert checker.check("heidi", "tmall-flagship", "refunds", "approve") is False
    ok(owner("POST", "/v1/tenants/{t}/denies",
             {"department": "accounting", "store": "all", "permission": "finance:withdraw"}))
    assert checker.check("carol", "amazon-us", "finance", "withdraw") is False


def test_r9_one_catalogue_unknown_names_refused(owner):
    body = ok(owner("GET", "/v1/catalogue"))
    names = {p["name"]: p for p in body["permissions"]}
    assert body["version"] and names["refunds:approve"]["high_risk"] is True
    assert names["orders:view"]["high_risk"] is False and names["staff:manage"]["owner_only"]
    for path, payload in (
        ("/v1/tenants/{t}/roles", {"role": "x", "permissions": ["orders:teleport"]}),
        ("/v1/tenants/{t}/permissions", {"subject": "frank", "store": "amazon-us",
                                         "permission": "orders:teleport"}),
        ("/v1/tenants/{t}/denies", {"subject": "frank", "store": "all",
                                    "permission": "teleport"}),
    ):
        status, answer = owner("POST", path, payload)
        assert status == 422 and "catalogue" in str(answer)


def test_r10_step_up_for_high_risk_permissions(owner, checker):
    assert checker.check("carol", "amazon-us", "finance", "withdraw") is True
    body = ok(owner("PATCH", "/v1/tenants/{t}/settings", {"step_up": True}))
    assert body["step_up"] is True
    assert checker.check("carol", "amazon-us", "finance", "withdraw") is False
    assert checker.check("carol", "amazon-us", "finance", "withdraw",
                         context={"second_factor": True}) is True
    assert checker.check("carol", "amazon-us", "finance", "view") is True  # not high-risk
    # the rule is in the exported policy, not hidden in code
    export = owner.client.get("/v1/tenants/acme/export.csv", headers=owner.headers).text
    assert "p, step-up, acme, finance, withdraw, deny" in export
    ok(owner("PATCH", "/v1/tenants/{t}/settings", {"step_up": False}))
    assert checker.check("carol", "amazon-us", "finance", "withdraw") is True


def test_r11_the_cap_is_a_tenant_setting_and_refuses_one_more(client, owner):
    admin = Caller(client, ADMIN, "acme")
    count = ok(owner("GET", "/v1/tenants/{t}/subaccounts"))["count"]
    assert ok(owner("GET", "/v1/tenants/{t}/settings"))["max_sub_accounts"] == 99
    assert owner("PATCH", "/v1/tenants/{t}/settings", {"max_sub_accounts": 500})[0] == 403
    ok(admin("PATCH", "/v1/tenants/{t}/settings", {"max_sub_accounts": count + 1}))
    new_sub_account(owner, "last", ["amazon-us"])
    status, body = owner("POST", "/v1/tenants/{t}/subaccounts", {
        "login": "one-more", "display_name": "x", "email": "x@example.com",
        "stores": ["amazon-us"]})
    assert status == 409 and f"at most {count + 1}" in body["message"]
    assert owner("GET", "/v1/tenants/{t}/subaccounts/one-more")[0] == 404


def test_r12_disabled_is_denied_everything_and_keeps_grants(owner, checker):
    assert checker.check("dave", "amazon-us", "prices", "change") is True
    ok(owner("PUT", "/v1/tenants/{t}/subaccounts/dave/status", {"disabled": True}))
    assert checker.check("dave", "amazon-us", "prices", "change") is False
    view = ok(owner("GET", "/v1/tenants/{t}/subaccounts/dave"))
    assert view["status"] == "disabled" and view["grants"]
    ok(owner("PUT", "/v1/tenants/{t}/subaccounts/dave/status", {"disabled": False}))
    assert checker.check("dave", "amazon-us", "prices", "change") is True
    assert owner("DELETE", "/v1/tenants/{t}/subaccounts/dave")[0] == 405  # no delete


def test_r13_owner_only_powers_are_never_grantable(owner, checker):
    attempts = [
        ("POST", "/v1/tenants/{t}/roles", {"role": "hr", "permissions": ["staff:manage"]}),
        ("PUT", "/v1/tenants/{t}/roles/store-manager", {"permissions": ["billing:purchase"]}),
        ("POST", "/v1/tenants/{t}/permissions", {"subject": "heidi", "store": "tmall-flagship",
                                                 "permission": "staff:set-default-store"}),
    ]
    for method, path, body in attempts:
        status, answer = owner(method, path, body)
        assert status == 422 and "owner-only" in str(answer)
    for area, action in (("staff", "manage"), ("billing", "purchase")):
        assert checker.check("heidi", "tmall-flagship", area, action) is False
    # and sub-account management answers only to an owner key
    assert Caller(owner.client, "acme-check.dev-acme-check-secret-0001")(
        "POST", "/v1/tenants/acme/subaccounts",
        {"login": "x", "display_name": "x", "email": "x@example.com",
         "stores": ["amazon-us"]})[0] == 403


def test_r14_batch_assignment_in_three_modes_all_or_nothing(owner, checker):
    for login in ("ra", "rb"):
        new_sub_account(owner, login, ["amazon-us"], roles=[{"role": "warehouse",
                                                             "stores": "all"}])
    ok(owner("POST", "/v1/tenants/{t}/subaccounts/batch-stores",
             {"mode": "add", "subjects": ["ra", "rb"], "stores": ["shopee-sg"]}))
    assert checker.check("rb", "shopee-sg", "orders", "ship") is True
    ok(owner("POST", "/v1/tenants/{t}/subaccounts/batch-stores",
             {"mode": "remove", "subjects": ["ra", "rb"], "stores": ["amazon-us"]}))
    assert checker.check("ra", "amazon-us", "orders", "ship") is False
    ok(owner("POST", "/v1/tenants/{t}/subaccounts/batch-stores",
             {"mode": "reset", "subjects": ["ra"], "stores": ["tmall-flagship", "amazon-us"]}))
    assert ok(owner("GET", "/v1/tenants/{t}/subaccounts/ra"))["stores"] == [
        "tmall-flagship", "amazon-us"]
    before = owner.client.get("/v1/tenants/acme/export.csv", headers=owner.headers).data
    status, body = owner("POST", "/v1/tenants/{t}/subaccounts/batch-stores", {
        "mode": "add", "subjects": ["ra", "ghost", "rb", "phantom"],
        "stores": ["amazon-us", "nowhere"]})
    assert status == 404
    assert body["errors"]["subjects"] == ["no such sub-account: ghost",
                                          "no such sub-account: phantom"]
    assert body["errors"]["stores"] == ["no such store: nowhere"]
    assert owner.client.get("/v1/tenants/acme/export.csv", headers=owner.headers).data == before


def test_r15_default_store_is_always_an_assigned_store(owner):
    new_sub_account(owner, "sam", ["shopee-sg", "amazon-us"])
    assert ok(owner("GET", "/v1/tenants/{t}/subaccounts/sam"))["default_store"] == "shopee-sg"
    status, body = owner("PUT", "/v1/tenants/{t}/subaccounts/sam/default-store",
                         {"store": "tmall-flagship"})
    assert status == 422 and "store" in body["errors"]
    ok(owner("PUT", "/v1/tenants/{t}/subaccounts/sam/default-store", {"store": "amazon-us"}))
    # unassigning the default moves it to the earliest assigned remaining store
    ok(owner("POST", "/v1/tenants/{t}/subaccounts/batch-stores",
             {"mode": "add", "subjects": ["sam"], "stores": ["tmall-flagship"]}))
    body = ok(owner("POST", "/v1/tenants/{t}/subaccounts/batch-stores",
                    {"mode": "remove", "subjects": ["sam"], "stores": ["amazon-us"]}))
    assert body["default_store_changed"] == {"sam": "shopee-sg"}


def test_r16_store_revocation_cascade(owner, checker):
    new_sub_account(owner, "tia", ["shopee-sg", "amazon-us"])  # default: shopee-sg
    new_sub_account(owner, "uma", ["shopee-sg"], roles=[{"role": "operator",
                                                         "stores": ["shopee-sg"]}])
    ok(owner("POST", "/v1/tenants/{t}/denies",
             {"subject": "erin", "store": "shopee-sg", "permission": "coupons:manage"}))
    assert checker.check("bob", "shopee-sg", "refunds", "approve") is True
    body = ok(owner("DELETE", "/v1/tenants/{t}/stores/shopee-sg"))
    assert body["store"] == "shopee-sg"
    assert body["default_store_changed"] == {"tia": "amazon-us"}
    assert set(body["disabled"]) == {"bob", "ivan", "uma"} - {"ivan"}  # ivan was disabled already
    assert "p, user:acme:bob, acme/shopee-sg, refunds, approve, allow" in body["removed_rules"]
    export = owner.client.get("/v1/tenants/acme/export.csv", headers=owner.headers).text
    assert "shopee-sg" not in export
    assert ok(owner("GET", "/v1/tenants/{t}/subaccounts/uma"))["status"] == "disabled"
    assert checker.check("owner", "shopee-sg", "orders", "view") is False
    # adding a store of the same id later brings nothing back
    ok(owner("POST", "/v1/tenants/{t}/stores", {"store": "shopee-sg"}), 201)
    assert checker.check("bob", "shopee-sg", "refunds", "approve") is False


def test_listing_filters_and_pagination(owner):
    body = ok(owner("GET", "/v1/tenants/{t}/subaccounts?per_page=3&page=2"))
    assert body["page"] == 2 and len(body["items"]) == 3 and body["total"] == body["count"]
    disabled = ok(owner("GET", "/v1/tenants/{t}/subaccounts?status=disabled"))["items"]
    assert [i["login"] for i in disabled] == ["ivan"]
    by_store = ok(owner("GET", "/v1/tenants/{t}/subaccounts?store=shopee-sg"))["items"]
    assert {i["login"] for i in by_store} == {"bob", "carol", "erin", "grace", "ivan"}
    by_dept = ok(owner("GET", "/v1/tenants/{t}/subaccounts?department=accounting"))["items"]
    assert [i["login"] for i in by_dept] == ["carol"]
    assert ok(owner("GET", "/v1/tenants/{t}/subaccounts?q=JUD"))["total"] == 1
    assert owner("GET", "/v1/tenants/{t}/subaccounts?per_page=0")[0] == 422
    assert owner("GET", "/v1/tenants/{t}/subaccounts?colour=red")[0] == 422


def test_r17_per_product_operators(owner, checker):
    # amazon-us runs by store: frank's... nobody edits there yet; give erin the designer role
    ok(owner("POST", "/v1/tenants/{t}/grants",
             {"subject": "erin", "role": "designer", "stores": ["amazon-us"]}))
    assert checker.check("erin", "amazon-us", "product/sku-1", "edit") is True
    body = ok(owner("PUT", "/v1/tenants/{t}/stores/amazon-us/mode",
                    {"mode": "by-product", "reason": "per-product operators from Monday"}))
    assert body["mode"] == "by-product"
    assert checker.check("erin", "amazon-us", "product/sku-1", "edit") is False
    assert checker.check("owner", "amazon-us", "product/sku-1", "delete") is True  # R3
    ok(owner("PUT", "/v1/tenants/{t}/stores/amazon-us/products/sku-1/operators/erin", {}))
    assert checker.check("erin", "amazon-us", "product/sku-1", "edit") is True
    assert checker.check("erin", "amazon-us", "product/sku-2", "edit") is False
    # operating a product grants nothing by itself: the role still has to allow the action
    ok(owner("PUT", "/v1/tenants/{t}/stores/amazon-us/products/sku-1/operators/frank", {}))
    assert checker.check("frank", "amazon-us", "product/sku-1", "edit") is False
    products = ok(owner("GET", "/v1/tenants/{t}/stores/amazon-us/products"))
    assert products["operators"] == {"sku-1": ["erin", "frank"]}
    ok(owner("PUT", "/v1/tenants/{t}/stores/amazon-us/mode", {"mode": "by-store"}))
    assert checker.check("erin", "amazon-us", "product/sku-2", "edit") is True
    status, body = checker("POST", "/check", {"subject": "erin", "store": "amazon-us",
                                              "object": "thing/sku-2", "action": "edit"})
    assert status == 422 and "object" in body["errors"]["json"]
