"""Limits, reasons and approvals (R22-R24) through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.storage import policy_store
from service.usecases import approvals as approvals_usecase
from service.usecases import expiry

from ..support import ACME_AUDIT, GLOBEX_CHECK, GLOBEX_OWNER, Caller, replay

pytestmark = pytest.mark.storage  # run on both databases (tests/conftest.py)

# The approval routes a storefront's key reaches (the escalation tests list every route).
TENANT_ROUTES = [("POST", "/v1/tenants/acme/approvals"),
                 ("GET", "/v1/tenants/acme/approvals"),
                 ("GET", "/v1/tenants/acme/approvals/x1"),
                 ("POST", "/v1/tenants/acme/approvals/x1/decision")]


def refund(checker: Caller, subject: str, store: str, amount: str | None = None,
           **context) -> dict:
    if amount is not None:
        context["amount"] = amount
    status, body = checker("POST", "/check", {"subject": subject, "store": store,
                                             "object": "refunds", "action": "approve",
                                             "context": context})
    assert status == 200, body
    return body


def ok(answer: tuple) -> dict:
    status, body = answer
    assert status in (200, 201), (status, body)
    return body


def setup_limits(owner: Caller) -> None:
    """customer-service holds refunds:approve up to 200.00; bob is in amazon-us and
    shopee-sg through the role alone; carol decides approvals in amazon-us only."""
    status, roles = owner("GET", "/v1/tenants/acme/roles")
    held = next(r["permissions"] for r in roles["roles"] if r["role"] == "customer-service")
    ok(owner("PUT", "/v1/tenants/acme/roles/customer-service", {
        "permissions": held + ["refunds:approve"], "limits": {"refunds:approve": "200.00"}}))
    ok(owner("POST", "/v1/tenants/acme/permissions/revoke", {
        "subject": "bob", "store": "shopee-sg", "permission": "refunds:approve"}))
    ok(owner("PUT", "/v1/tenants/acme/subaccounts/bob/stores",
             {"stores": ["shopee-sg", "amazon-us"]}))
    ok(owner("POST", "/v1/tenants/acme/permissions", {
        "subject": "carol", "store": "amazon-us", "permission": "approvals:decide"}))


def test_the_whole_story(app, client, owner, checker):
    setup_limits(owner)
    # within the limit, at it, a cent over, and no amount at all
    assert refund(checker, "bob", "amazon-us", "150.00") == {
        "allowed": True, "reason": "granted", "requires": None,
        "revision": refund(checker, "bob", "amazon-us", "1")["revision"]}
    assert refund(checker, "bob", "amazon-us", "200")["allowed"] is True
    over = refund(checker, "bob", "amazon-us", "200.01")
    assert (over["allowed"], over["reason"], over["requires"]) == (
        False, "limit_exceeded", None)  # approvals are not on yet: nothing to ask for
    assert refund(checker, "bob", "amazon-us")["reason"] == "amount_required"
    # the tenant lets a second person approve over the limit
    ok(owner("PUT", "/v1/tenants/acme/approval-modes/refunds:approve", {"mode": "over_limit"}))
    assert ok(owner("GET", "/v1/tenants/acme/approval-modes")) == {
        "modes": {"refunds:approve": "over_limit"}}
    over = refund(checker, "bob", "amazon-us", "200.01")
    assert (over["allowed"], over["reason"], over["requires"]) == (
        False, "limit_exceeded", "approval")
    # within the limit there is nothing to approve
    status, body = checker("POST", "/v1/tenants/acme/approvals", {
        "subject": "bob", "store": "amazon-us", "permission": "refunds:approve",
        "amount": "150.00"})
    assert status == 409 and body["errors"]["permission"] == ["granted"], body
    # the storefront files bob's requests, in amazon-us and in shopee-sg
    request = ok(checker("POST", "/v1/tenants/acme/approvals", {
        "subject": "bob", "store": "amazon-us", "permission": "refunds:approve",
        "amount": "250.00", "note": "order 1001, damaged in transit"}))
    assert (request["state"], request["amount"], request["subject"]) == (
        "pending", "250.00", "bob")
    elsewhere = ok(checker("POST", "/v1/tenants/acme/approvals", {
        "subject": "bob", "store": "shopee-sg", "permission": "refunds:approve",
        "amount": "300.00"}))
    approval = request["id"]
    # pending: not yet usable
    assert refund(checker, "bob", "amazon-us", "250.00", approval=approval)["reason"] == \
        "approval_pending"
    # carol's queue holds the amazon-us request only; bob's holds nothing of his own
    queue = ok(checker("GET", "/v1/tenants/acme/approvals?approver=carol"))
    assert [item["id"] for item in queue["items"]] == [approval]
    assert ok(checker("GET", "/v1/tenants/acme/approvals?approver=bob"))["items"] == []
    # bob cannot approve his own; carol is refused in shopee-sg and approves in amazon-us
    decision = f"/v1/tenants/acme/approvals/{approval}/decision"
    status, body = checker("POST", decision, {"approver": "bob", "approve": True})
    assert status == 403 and "approver" in body["errors"], body
    status, body = checker("POST", f"/v1/tenants/acme/approvals/{elsewhere['id']}/decision",
                           {"approver": "carol", "approve": True})
    assert status == 403 and "shopee-sg" in str(body["errors"]["approver"]), body
    status, body = checker("POST", decision, {"approve": True})
    assert status == 422 and "approver" in body["errors"], body  # a storefront names one
    approved = ok(checker("POST", decision, {"approver": "carol", "approve": True,
                                             "note": "photos checked"}))
    assert (approved["state"], approved["decided_by"]) == ("approved", "carol")
    status, body = checker("POST", decision, {"approver": "carol", "approve": False})
    assert status == 409, body  # decided once
    # the approval allows exactly that action, once
    assert refund(checker, "bob", "amazon-us", "250.01", approval=approval)["reason"] == \
        "approval_mismatch"
    assert refund(checker, "alice", "amazon-us", "250.00", approval=approval)["reason"] == \
        "approval_mismatch"
    assert refund(checker, "bob", "amazon-us", "250.00")["reason"] == "limit_exceeded"
    used = refund(checker, "bob", "amazon-us", "250.00", approval=approval)
    assert (used["allowed"], used["reason"]) == (True, "granted"), used
    again = refund(checker, "bob", "amazon-us", "250.00", approval=approval)
    assert (again["allowed"], again["reason"]) == (False, "approval_used"), again
    assert refund(checker, "bob", "amazon-us", "10.00", approval="nosuch")["reason"] == \
        "approval_not_valid"
    # an approval in a batch is refused: a use is answered once, on /check
    status, body = checker("POST", "/check/batch", {"checks": [{
        "subject": "bob", "store": "amazon-us", "object": "refunds", "action": "approve",
        "context": {"amount": "250.00", "approval": approval}}]})
    assert status == 422 and "approval" in str(body["errors"]), body
    # the owner rejects the shopee-sg one: a rejected request is a deny with its reason
    ok(owner("POST", f"/v1/tenants/acme/approvals/{elsewhere['id']}/decision",
             {"approve": False, "note": "not this one"}))
    assert refund(checker, "bob", "shopee-sg", "300.00",
                  approval=elsewhere["id"])["reason"] == "approval_rejected"
    # every step is in the ledger, with its actor
    entries = ok(owner("GET", "/v1/tenants/acme/ledger?per_page=500"))["entries"]
    steps = {e["reason"]: e["actor"] for e in entries if approval in e["reason"]}
    assert steps == {f"approval {approval} requested for bob": "check:acme-check",
                     f"approval {approval} approved by carol": "check:acme-check",
                     f"approval {approval} used": "check:acme-check"}, steps
    assert any(e["reason"] == f"approval {elsewhere['id']} rejected by owner"
               and e["actor"] == "owner:acme-owner" for e in entries)
    # and in the decision log, with filters for auditors
    app.extensions["authz"].decision_log.flush()
    auditor = Caller(client, ACME_AUDIT)
    logged = ok(auditor("GET", f"/v1/tenants/acme/decisions?approval={approval}"))
    assert sorted(d["reason"] for d in logged["entries"]) == [
        "approval_mismatch", "approval_mismatch", "approval_pending", "approval_used",
        "granted"], logged
    assert all(d["consistent"] for d in logged["entries"]), logged
    assert ok(auditor("GET", "/v1/tenants/acme/decisions?reason=limit_exceeded"))["total"] >= 2
    listed = ok(auditor("GET", "/v1/tenants/acme/approvals?state=used"))
    assert [a["id"] for a in listed["items"]] == [approval]
    # the auditor's replay: the export in stock pycasbin, amounts included
    export = client.get("/v1/tenants/acme/export.csv",
                        headers={"Authorization": f"Bearer {ACME_AUDIT}"}).get_data(True)
    assert "p, role:acme:customer-service, acme, refunds, approve<=000000000200.00, allow" \
        in export
    auditor = replay(export)
    for amount in ("000000000150.00", "000000000200.00", "000000000200.01", ""):
        assert auditor.enforce("user:acme:bob", "acme/amazon-us", "refunds", "approve", "",
                              "", amount, "") == (amount != "" and amount <= "000000000200.00")


def test_an_expired_approval_is_denied_and_its_grant_swept(app, owner, checker, monkeypatch):
    setup_limits(owner)
    ok(owner("PUT", "/v1/tenants/acme/approval-modes/refunds:approve", {"mode": "over_limit"}))
    request = ok(checker("POST", "/v1/tenants/acme/approvals", {
        "subject": "bob", "store": "amazon-us", "permission": "refunds:approve",
        "amount": "250.00", "expires_in_minutes": 5}))
    ok(owner("POST", f"/v1/tenants/acme/approvals/{request['id']}/decision", {"approve": True}))
    later = datetime.now(UTC) + timedelta(minutes=6)
    monkeypatch.setattr(approvals_usecase, "_now", lambda: later)
    assert refund(checker, "bob", "amazon-us", "250.00",
                  approval=request["id"])["reason"] == "approval_expired"
    assert ok(owner("GET", f"/v1/tenants/acme/approvals/{request['id']}"))["state"] == \
        "expired"
    with app.app_context():
        expiry.sweep(policy_store.SQL, later)
    export = owner.client.get("/v1/tenants/acme/export.csv", headers=owner.headers).get_data(
        True)
    assert f"approval:acme:{request['id']}" not in export  # the one-shot grant went


def test_always_needs_an_approval_and_step_up_comes_first(owner, checker):
    """Always: every sub-account's action needs a second person (the owner's does not);
    with step-up on, the second factor is asked for first, then the approval."""
    ok(owner("PUT", "/v1/tenants/acme/approval-modes/finance:withdraw", {"mode": "always"}))
    status, body = checker("POST", "/check", {"subject": "carol", "store": "amazon-us",
                                              "object": "finance", "action": "withdraw"})
    carol = body
    assert (carol["allowed"], carol["reason"], carol["requires"]) == (
        False, "approval_required", "approval"), carol
    assert checker.check("owner", "amazon-us", "finance", "withdraw") is True
    ok(owner("PATCH", "/v1/tenants/acme/settings", {"step_up": True}))
    status, body = checker("POST", "/check", {"subject": "carol", "store": "amazon-us",
                                              "object": "finance", "action": "withdraw"})
    assert (body["reason"], body["requires"]) == ("step_up_required", "second_factor"), body
    request = ok(checker("POST", "/v1/tenants/acme/approvals", {
        "subject": "carol", "store": "amazon-us", "permission": "finance:withdraw"}))
    ok(owner("POST", f"/v1/tenants/acme/approvals/{request['id']}/decision", {"approve": True}))
    status, body = checker("POST", "/check", {
        "subject": "carol", "store": "amazon-us", "object": "finance", "action": "withdraw",
        "context": {"approval": request["id"]}})
    assert body["reason"] == "step_up_required", body  # an approval is not a second factor
    status, body = checker("POST", "/check", {
        "subject": "carol", "store": "amazon-us", "object": "finance", "action": "withdraw",
        "context": {"approval": request["id"], "second_factor": True}})
    assert (body["allowed"], body["reason"]) == (True, "granted"), body
    # explain gives the same codes, with the rules
    status, body = checker("POST", "/explain", {"subject": "carol", "store": "amazon-us",
                                                "object": "finance", "action": "withdraw",
                                                "context": {"second_factor": True}})
    assert (body["reason"], body["requires"]) == ("approval_required", "approval"), body
    assert body["denies"][0]["rules"] == ["p, approval, acme, finance, withdraw, deny"]


HOSTILE_AMOUNTS = ["-1", "NaN", "nan", "Infinity", "1e3", "1E3", "0x10", "1" * 40, "ten",
                   "", " 1", "1 ", "+1", "1.", ".5", "1.005", "1,00", "１５０", "1_000",
                   "9999999999999", None, 150, 150.0, True, [], {}]


def test_hostile_amounts_never_allow(owner, checker):
    setup_limits(owner)
    for amount in HOSTILE_AMOUNTS:
        for path, body in (
                ("/check", {"subject": "bob", "store": "amazon-us", "object": "refunds",
                            "action": "approve", "context": {"amount": amount}}),
                ("/check/batch", {"checks": [{"subject": "bob", "store": "amazon-us",
                                              "object": "refunds", "action": "approve",
                                              "context": {"amount": amount}}]})):
            status, answer = checker("POST", path, body)
            assert status in (400, 422), (amount, path, status, answer)
            assert "amount" in str(answer["errors"]), answer
        for grant in ({"permissions": ["refunds:approve"], "limits": {"refunds:approve":
                                                                       amount}},):
            status, answer = owner("PUT", "/v1/tenants/acme/roles/designer", grant)
            assert status == 422 and "refunds:approve" in str(answer["errors"]), (amount, answer)
    # a limit only on a permission that moves money, and only on grants
    status, answer = owner("POST", "/v1/tenants/acme/permissions", {
        "subject": "alice", "store": "amazon-us", "permission": "orders:view",
        "limit": "10.00"})
    assert status == 422 and "limit" in answer["errors"], answer
    status, answer = owner("POST", "/v1/tenants/acme/denies", {
        "subject": "alice", "store": "amazon-us", "permission": "refunds:approve",
        "limit": "10.00"})
    assert status == 422 and "limit" in answer["errors"], answer


def test_a_supplementary_grant_with_a_limit_and_a_store_currency(owner, checker):
    ok(owner("POST", "/v1/tenants/acme/stores", {"store": "ebay-de", "currency": "EUR"}))
    ok(owner("PUT", "/v1/tenants/acme/subaccounts/alice/stores",
             {"stores": ["amazon-us", "ebay-de"]}))
    ok(owner("POST", "/v1/tenants/acme/permissions", {
        "subject": "alice", "store": "ebay-de", "permission": "orders:cancel",
        "limit": "50.5"}))
    policy = ok(owner("GET", "/v1/tenants/acme/policy"))
    assert policy["currencies"]["ebay-de"] == "EUR" and policy["currencies"]["amazon-us"] == "USD"
    assert {"subject": "alice", "store": "ebay-de", "permission": "orders:cancel",
            "effect": "allow", "limit": "50.50"} in policy["permissions"]
    cancel = {"subject": "alice", "store": "ebay-de", "object": "orders", "action": "cancel"}
    status, body = checker("POST", "/check", {**cancel, "context": {"amount": "50.50"}})
    assert body["allowed"] is True, body
    status, body = checker("POST", "/check", {**cancel, "context": {"amount": "50.51"}})
    assert body["reason"] == "limit_exceeded", body
    # given again, the grant is replaced (one limit per grant), never doubled
    ok(owner("POST", "/v1/tenants/acme/permissions", {
        "subject": "alice", "store": "ebay-de", "permission": "orders:cancel"}))
    status, body = checker("POST", "/check", {**cancel, "context": {"amount": "5000"}})
    assert body["allowed"] is True, body
    ok(owner("PUT", "/v1/tenants/acme/stores/ebay-de/currency", {"currency": "GBP"}))
    assert ok(owner("GET", "/v1/tenants/acme/policy"))["currencies"]["ebay-de"] == "GBP"
    status, body = owner("PUT", "/v1/tenants/acme/stores/ebay-de/currency",
                         {"currency": "euro"})
    assert status == 422 and "currency" in str(body), body


def test_other_tenants_keys_reach_no_approval(client, owner, checker):
    setup_limits(owner)
    ok(owner("PUT", "/v1/tenants/acme/approval-modes/refunds:approve", {"mode": "over_limit"}))
    request = ok(checker("POST", "/v1/tenants/acme/approvals", {
        "subject": "bob", "store": "amazon-us", "permission": "refunds:approve",
        "amount": "250.00"}))
    for token in (GLOBEX_CHECK, GLOBEX_OWNER):
        other = Caller(client, token)
        for method, path in TENANT_ROUTES:
            path = path.replace("x1", request["id"])
            body = {"approver": "carol", "approve": True} if method == "POST" else None
            if path.endswith("/approvals") and method == "POST":
                body = {"subject": "bob", "store": "amazon-us",
                        "permission": "refunds:approve", "amount": "250.00"}
            status, _ = other(method, path, body)
            assert status == 403, (token, method, path, status)
    # an auditor reads, but neither files nor decides
    auditor = Caller(client, ACME_AUDIT)
    assert auditor("GET", "/v1/tenants/acme/approvals")[0] == 200
    assert auditor("POST", f"/v1/tenants/acme/approvals/{request['id']}/decision",
                   {"approve": True})[0] == 403
    assert ok(owner("GET", f"/v1/tenants/acme/approvals/{request['id']}"))["state"] == "pending"


def test_an_app_marks_its_own_money_permission_and_its_key_files_and_decides(client, owner):
    """R21 with R22-R24: an app's permission may move money; the app's key files requests
    and records decisions for its own permissions only, in any tenant that installed it."""
    from .test_apps import register

    ads = register(client, "adsly")
    ok(ads("PUT", "/v1/apps/adsly/catalogue", {"permissions": [
        {"name": "budget:spend", "amount": True,
         "description": {"en": "Spend ad budget", "zh-CN": "花费广告预算"}}]}))
    ok(owner("PUT", "/v1/tenants/acme/apps/adsly", {}))
    listed = ok(owner("GET", "/v1/tenants/acme/catalogue"))["permissions"]
    marks = {p["name"]: p["amount"] for p in listed}
    assert marks["adsly.budget:spend"] and marks["refunds:approve"] and marks["orders:cancel"]
    assert not marks["orders:view"]
    ok(owner("POST", "/v1/tenants/acme/permissions", {
        "subject": "alice", "store": "amazon-us", "permission": "adsly.budget:spend",
        "limit": "500"}))
    ok(owner("POST", "/v1/tenants/acme/permissions", {
        "subject": "carol", "store": "amazon-us", "permission": "approvals:decide"}))
    ok(owner("PUT", "/v1/tenants/acme/approval-modes/adsly.budget:spend",
             {"mode": "over_limit"}))
    spend = {"tenant": "acme", "subject": "alice", "store": "amazon-us",
             "object": "adsly.budget", "action": "spend"}
    over = ok(ads("POST", "/check", {**spend, "context": {"amount": "800.00"}}))
    assert (over["reason"], over["requires"]) == ("limit_exceeded", "approval"), over
    # its own permission: filed and decided by the app's key; a built-in one: refused
    status, body = ads("POST", "/v1/tenants/acme/approvals", {
        "subject": "bob", "store": "shopee-sg", "permission": "refunds:approve",
        "amount": "300.00"})
    assert status == 403, body
    filed = ok(ads("POST", "/v1/tenants/acme/approvals", {
        "subject": "alice", "store": "amazon-us", "permission": "adsly.budget:spend",
        "amount": "800.00"}))
    assert filed["requested_by"] == "app:adsly"
    assert [a["id"] for a in ok(ads("GET", "/v1/tenants/acme/approvals?approver=carol"))[
        "items"]] == [filed["id"]]
    status, body = ads("GET", "/v1/tenants/acme/approvals")
    assert status == 422 and "approver" in body["errors"], body  # a queue, not the list
    ok(ads("POST", f"/v1/tenants/acme/approvals/{filed['id']}/decision",
           {"approver": "carol", "approve": True}))
    used = ok(ads("POST", "/check", {**spend, "context": {"amount": "800.00",
                                                          "approval": filed["id"]}}))
    assert used["allowed"] is True, used
    # a version that drops the permission while a limited grant of it stands is refused
    status, body = ads("PUT", "/v1/apps/adsly/catalogue", {"permissions": [
        {"name": "budget:view", "description": {"en": "See budget", "zh-CN": "查看预算"}}]})
    assert status == 409 and "acme" in str(body), body


def test_a_limit_moved_in_by_a_file_lints_and_plans_like_the_api(owner):
    """One set of invariants for every way in (R22): a file's limited grant lints clean
    (a deny of the same permission shadows it, it is not idle), a second limit on the
    same grant is refused, and the import plan shows what changing a limit changes."""
    export = owner.client.get("/v1/tenants/acme/export.csv", headers=owner.headers).get_data(
        True)
    limited = "p, user:acme:bob, acme/shopee-sg, refunds, approve<=000000000050.00, allow"
    changed = export.replace("p, user:acme:bob, acme/shopee-sg, refunds, approve, allow",
                             limited)
    assert changed != export
    findings = ok(owner("POST", "/v1/tenants/acme/lint", {"csv": changed}))["findings"]
    assert not [f for f in findings if f["severity"] == "error"], findings
    plan = ok(owner("POST", "/v1/tenants/acme/import", {"csv": changed, "dry_run": True}))
    assert plan["added"] == [limited] and plan["removed"] == [
        "p, user:acme:bob, acme/shopee-sg, refunds, approve, allow"], plan
    flips = plan["decision_changes"]["items"]
    assert {"subject": "bob", "store": "shopee-sg", "permission": "refunds:approve",
            "second_factor": False, "before": True, "after": False} in flips, flips
    assert not any(f.get("amount") == "50.00" and f["subject"] == "bob" for f in flips)
    twice = changed + "p, user:acme:bob, acme/shopee-sg, refunds, approve<=000000000080.00, allow\n"
    findings = ok(owner("POST", "/v1/tenants/acme/lint", {"csv": twice}))["findings"]
    assert any(f["code"] == "limit-twice" for f in findings), findings
    status, body = owner("POST", "/v1/tenants/acme/import", {"csv": twice, "dry_run": False})
    assert status == 422, body
    bad = changed.replace("approve<=000000000050.00", "approve<=50.00")
    findings = ok(owner("POST", "/v1/tenants/acme/lint", {"csv": bad}))["findings"]
    assert any(f["severity"] == "error" and "limit" in f["message"] for f in findings), findings
    ok(owner("POST", "/v1/tenants/acme/import", {"csv": changed, "dry_run": False}))
    status, body = owner("GET", "/v1/tenants/acme/policy")
    assert {"subject": "bob", "store": "shopee-sg", "permission": "refunds:approve",
            "effect": "allow", "limit": "50.00"} in body["permissions"], body
