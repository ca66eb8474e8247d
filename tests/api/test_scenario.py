"""The seed platforms' workflow end to end: an owner sets up a tenant with departments, roles
and 99 sub-accounts over 3 stores, batch-assigns stores in all three modes and revokes a
store; every decision then equals stock pycasbin over the exported model and policy."""

from __future__ import annotations

import random

import casbin

from service.domain import catalogue

from ..support import ROOT, Caller


def ok(result, expect=(200, 201)):
    status, body = result
    assert status in expect, body
    return body


def test_owner_workflow_then_every_decision_matches_the_export(client, admin, tmp_path):
    created = ok(admin("POST", "/v1/tenants", {"tenant": "shopco", "name": "Shop Co"}))
    owner = Caller(client, created["owner_key"], "shopco")
    check = Caller(client, created["check_key"])
    stores = ["amazon-us", "tmall-flagship", "shopee-sg"]
    for store in stores:
        ok(owner("POST", "/v1/tenants/{t}/stores", {"store": store}))
    for dept in ("service", "finance", "ops"):
        ok(owner("POST", "/v1/tenants/{t}/departments", {"department": dept}))
    ok(owner("POST", "/v1/tenants/{t}/grants",
             {"department": "service", "role": "customer-service", "stores": "all"}))
    ok(owner("POST", "/v1/tenants/{t}/grants",
             {"department": "finance", "role": "finance", "stores": ["amazon-us"]}))
    ok(owner("POST", "/v1/tenants/{t}/roles",
             {"role": "night-shift", "permissions": ["orders:view", "orders:ship"]}))

    rng = random.Random(7)
    logins = [f"staff-{i:02d}" for i in range(99)]
    for i, login in enumerate(logins):
        own = rng.sample(stores, rng.randint(1, 3))
        roles = [{"role": rng.choice(["operator", "warehouse", "night-shift"]),
                  "stores": rng.choice(["all", own[:1]])}] if i % 3 else []
        ok(owner("POST", "/v1/tenants/{t}/subaccounts", {
            "login": login, "display_name": f"Staff {i}", "email": f"{login}@shop.test",
            "stores": own, "departments": [["service", "finance", "ops"][i % 3]],
            "roles": roles}))
    status, body = owner("POST", "/v1/tenants/{t}/subaccounts", {
        "login": "staff-99", "display_name": "one too many", "email": "x@shop.test",
        "stores": stores})
    assert status == 409  # the 100th (R11)
    ok(owner("POST", "/v1/tenants/{t}/denies",
             {"department": "ops", "store": "tmall-flagship", "permission": "orders:ship"}))
    ok(owner("PUT", "/v1/tenants/{t}/subaccounts/staff-05/status", {"disabled": True}))

    # batch assignment in all three modes (R14)
    ok(owner("POST", "/v1/tenants/{t}/subaccounts/batch-stores",
             {"mode": "add", "subjects": logins[:40], "stores": ["shopee-sg"]}))
    ok(owner("POST", "/v1/tenants/{t}/subaccounts/batch-stores",
             {"mode": "remove", "subjects": logins[30:60], "stores": ["amazon-us"]}))
    ok(owner("POST", "/v1/tenants/{t}/subaccounts/batch-stores",
             {"mode": "reset", "subjects": logins[60:70], "stores": ["tmall-flagship"]}))
    for login in logins[60:70]:
        assert ok(owner("GET", f"/v1/tenants/{{t}}/subaccounts/{login}"))["stores"] == \
            ["tmall-flagship"]
    ok(owner("POST", "/v1/tenants/{t}/subaccounts/batch-stores",
             {"mode": "reset", "subjects": logins[90:], "stores": ["shopee-sg"]}))

    # revoke a store (R16)
    only_shopee = [lg for lg in logins
                   if ok(owner("GET", f"/v1/tenants/{{t}}/subaccounts/{lg}"))["stores"]
                   == ["shopee-sg"]]
    assert set(logins[90:]) <= set(only_shopee)
    revoked = ok(owner("DELETE", "/v1/tenants/{t}/stores/shopee-sg"))
    assert set(revoked["disabled"]) == set(only_shopee) - {"staff-05"}
    listing = ok(owner("GET", "/v1/tenants/{t}/subaccounts?per_page=200"))["items"]
    assert len(listing) == 99
    for item in listing:
        assert "shopee-sg" not in item["stores"]
        if item["stores"]:
            assert item["default_store"] in item["stores"]  # R15
        else:
            assert item["status"] == "disabled" and item["default_store"] is None

    # every decision equals stock pycasbin over the export (R20)
    export = tmp_path / "shopco.csv"
    export.write_bytes(client.get("/v1/tenants/shopco/export.csv", headers=owner.headers).data)
    oracle = casbin.Enforcer(str(ROOT / "policies" / "model.conf"), str(export))
    subjects = logins + ["owner", "staff-99"]
    perms = [(p.area, p.action) for p in catalogue.PERMISSIONS]
    cases = [(s, st, a, act) for s in subjects for st in stores for a, act in perms]
    rng.shuffle(cases)
    cases = cases[:3000]
    allowed = 0
    for start in range(0, len(cases), 1000):
        chunk = cases[start:start + 1000]
        body = ok(check("POST", "/check/batch", {"checks": [
            {"subject": s, "store": st, "object": a, "action": act} for s, st, a, act in chunk]}))
        for (s, st, a, act), result in zip(chunk, body["results"], strict=True):
            expected = oracle.enforce(f"user:shopco:{s}", f"shopco/{st}", a, act, "", "", "", "")
            assert result["allowed"] == expected, (s, st, a, act)
            allowed += expected
    assert 100 < allowed < len(cases) - 100
