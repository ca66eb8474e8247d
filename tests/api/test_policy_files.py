"""Export / import / diff / lint (R20), through the API."""

from __future__ import annotations

from service.domain import policy_files as PF

from ..support import ACME_OWNER, bearer


def export(owner) -> str:
    return owner.client.get("/v1/tenants/acme/export.csv", headers=owner.headers).data.decode()


def test_export_is_deterministic_and_round_trips(owner):
    first = export(owner)
    assert first == export(owner) and first.splitlines() == sorted(first.splitlines())
    status, plan = owner("POST", "/v1/tenants/{t}/import", {"csv": first, "dry_run": True})
    assert status == 200 and plan["added"] == plan["removed"] == []
    assert plan["decision_changes"]["total"] == 0


def test_dry_run_shows_what_apply_then_does(owner, checker, app):
    text = export(owner)
    edited = text.replace("p, user:acme:bob, acme/shopee-sg, refunds, approve, allow\n", "")
    edited += "p, user:acme:alice, acme/amazon-us, reports, export, allow\n"
    before_revision = owner("GET", "/v1/tenants/{t}/policy")[1]["revision"]
    status, plan = owner("POST", "/v1/tenants/{t}/import", {"csv": edited})
    assert status == 200 and plan["dry_run"] is True
    assert plan["added"] == ["p, user:acme:alice, acme/amazon-us, reports, export, allow"]
    assert plan["removed"] == ["p, user:acme:bob, acme/shopee-sg, refunds, approve, allow"]
    changes = {(c["subject"], c["store"], c["permission"], c["second_factor"]):
               (c["before"], c["after"]) for c in plan["decision_changes"]["items"]}
    assert changes[("alice", "amazon-us", "reports:export", False)] == (False, True)
    assert changes[("bob", "shopee-sg", "refunds:approve", False)] == (True, False)
    assert plan["decision_changes"]["total"] == len(changes) == 4  # with and without 2FA
    assert export(owner) == text  # the dry run changed nothing
    status, applied = owner("POST", "/v1/tenants/{t}/import",
                            {"csv": edited, "dry_run": False, "reason": "audit fix"})
    assert status == 200 and applied["revision"] == before_revision + 1
    assert {k: applied[k] for k in ("added", "removed", "decision_changes")} == \
        {k: plan[k] for k in ("added", "removed", "decision_changes")}
    assert checker.check("alice", "amazon-us", "reports", "export") is True
    assert checker.check("bob", "shopee-sg", "refunds", "approve") is False
    status, diff = owner("GET", f"/v1/tenants/{{t}}/diff?from={before_revision}"
                                f"&to={applied['revision']}")
    assert status == 200 and diff["added"] == plan["added"] and diff["removed"] == plan["removed"]
    status, back = owner("GET", f"/v1/tenants/{{t}}/diff?from={applied['revision']}"
                                f"&to={before_revision}")
    assert back["added"] == plan["removed"] and back["removed"] == plan["added"]


def test_a_file_with_any_error_is_refused_whole(owner, checker):
    text = export(owner)
    bad = text + ("p, user:acme:alice, acme/amazon-us, reports, export, allow\n"
                  "p, user:acme:alice, acme/amazon-us, staff, manage, allow\n"  # R13
                  "g, user:globex:alice, globex/amazon-us\n"                   # other tenant
                  "p, user:acme:al,ice, acme/amazon-us, orders, view, allow\n")
    bad = bad.replace("p, user:acme:owner, acme, *, *, allow\n", "")          # R3
    for dry_run in (True, False):
        status, body = owner("POST", "/v1/tenants/{t}/import", {"csv": bad, "dry_run": dry_run})
        assert status == 422 and len(body["errors"]["csv"]) >= 4, body
    assert export(owner) == text
    assert checker.check("alice", "amazon-us", "reports", "export") is False


def test_lint_findings(owner):
    text = export(owner) + (
        "p, role:acme:ghost-role, acme, orders, view, allow\n"
        "p, user:acme:judy, acme/amazon-us, finance, withdraw, deny\n"
        "p, user:acme:judy, acme/amazon-us, finance, withdraw, deny\n"
        "p, user:acme:alice, acme/mars, orders, view, allow\n"
        "p, user:acme:alice, acme/amazon-us, orders, fly, allow\n")
    status, report = owner("POST", "/v1/tenants/{t}/lint", {"csv": text})
    assert status == 200
    codes = {f["code"] for f in report["findings"]}
    assert {"role-unused", "deny-shadows-nothing", "duplicate", "store-undeclared",
            "invalid"} <= codes
    invalid = [f for f in report["findings"] if f["code"] == "invalid"]
    assert invalid[0]["line"] == len(text.splitlines()) and "fly" in invalid[0]["message"]
    assert export(owner) != text  # lint changes nothing
    assert not [f for f in PF.lint(export(owner), "acme") if f.severity == "error"]


def test_another_tenants_owner_cannot_import_or_diff(client):
    from ..support import GLOBEX_OWNER

    for method, path, body in (("POST", "/v1/tenants/acme/import", {"csv": ""}),
                               ("POST", "/v1/tenants/acme/lint", {"csv": ""}),
                               ("GET", "/v1/tenants/acme/diff?from=0&to=2", None)):
        response = client.open(path, method=method, json=body, headers=bearer(GLOBEX_OWNER))
        assert response.status_code == 403
    assert client.get("/v1/tenants/acme/diff?from=x&to=2",
                      headers=bearer(ACME_OWNER)).status_code == 422
