"""Apps bring their own permissions (R21): the whole story through HTTP, on both backends,
and what no key may do with apps."""

from __future__ import annotations

import pytest

from ..support import (
    ACME_AUDIT,
    ACME_CHECK,
    ACME_OWNER,
    ADMIN,
    GLOBEX_CHECK,
    GLOBEX_OWNER,
    Caller,
    replay,
)

pytestmark = pytest.mark.storage  # run on both databases (tests/conftest.py)

NAME = {"en": "Quantum Analytics", "zh-CN": "量子分析"}
V1 = {
    "permissions": [
        {"name": "traffic:view", "description": {"en": "See traffic", "zh-CN": "查看流量"}},
        {"name": "campaigns:edit", "high_risk": True,
         "description": {"en": "Edit campaigns", "zh-CN": "编辑推广"}},
        {"name": "reports:export", "description": {"en": "Export", "zh-CN": "导出"}},
    ],
    "role_templates": {"quantum-analyst": ["traffic:view", "reports:export"]},
}
V2 = {
    "permissions": [V1["permissions"][0], {**V1["permissions"][1], "name": "campaigns:manage"},
                    V1["permissions"][2]],
    "renames": {"campaigns:edit": "campaigns:manage"},
}
# Routes of a tenant this file covers (tests/api/test_escalation.py lists every one).
TENANT_ROUTES = [("PUT", "/v1/tenants/acme/apps/quantum"),
                 ("DELETE", "/v1/tenants/acme/apps/quantum"),
                 ("GET", "/v1/tenants/acme/catalogue"),
                 ("GET", "/v1/tenants/acme/allowed/permissions"),
                 ("GET", "/v1/tenants/acme/allowed/stores"),
                 ("POST", "/v1/tenants/acme/apps/quantum/import"),
                 ("GET", "/v1/tenants/acme/apps")]


def check(caller: Caller, subject: str, store: str, obj: str, action: str, **extra) -> dict:
    status, body = caller("POST", "/check", {"subject": subject, "store": store,
                                             "object": obj, "action": action, **extra})
    assert status == 200, body
    return body


def register(client, app: str = "quantum") -> Caller:
    status, body = Caller(client, ADMIN)("POST", "/v1/apps", {"app": app, "name": NAME})
    assert status == 201, body
    assert body["token"].startswith(body["key_id"] + ".")
    return Caller(client, body["token"])


def ledger_entries(owner: Caller, actor: str) -> list[dict]:
    status, body = owner("GET", f"/v1/tenants/acme/ledger?actor={actor}")
    assert status == 200, body
    return body["entries"]


def test_the_whole_story(client):
    owner = Caller(client, ACME_OWNER, "acme")
    checker, globex = Caller(client, ACME_CHECK), Caller(client, GLOBEX_CHECK)
    quantum = register(client)
    status, body = quantum("PUT", "/v1/apps/quantum/catalogue", V1)
    assert (status, body["version"]) == (200, 1), body

    # Not installed yet: not grantable, and denied with the reason.
    status, body = owner("POST", "/v1/tenants/acme/permissions", {
        "subject": "dave", "store": "amazon-us", "permission": "quantum.campaigns:edit"})
    assert status == 422 and "not installed" in str(body), body
    assert check(checker, "owner", "amazon-us", "quantum.traffic", "view") == {
        "allowed": False, "revision": check(checker, "owner", "amazon-us", "orders",
                                            "view")["revision"],
        "reason": "app_not_installed", "requires": None}

    status, body = owner("PUT", "/v1/tenants/acme/apps/quantum", {"reason": "analytics"})
    assert status == 200, body
    assert body["role_templates_added"] == ["quantum-analyst"]
    status, roles = owner("GET", "/v1/tenants/acme/roles")
    operator = next(r["permissions"] for r in roles["roles"] if r["role"] == "operator")
    status, body = owner("PUT", "/v1/tenants/acme/roles/operator",
                         {"permissions": sorted(operator) + ["quantum.traffic:view"]})
    assert status == 200, body
    status, body = owner("POST", "/v1/tenants/acme/permissions", {
        "subject": "dave", "store": "amazon-us", "permission": "quantum.campaigns:edit"})
    assert status == 200, body

    # /check allows exactly that.
    assert check(checker, "dave", "amazon-us", "quantum.traffic", "view")["allowed"]
    assert check(checker, "dave", "tmall-flagship", "quantum.traffic", "view")["allowed"]
    assert check(checker, "dave", "amazon-us", "quantum.campaigns", "edit")["allowed"]
    assert not check(checker, "dave", "tmall-flagship", "quantum.campaigns", "edit")["allowed"]
    assert not check(checker, "alice", "amazon-us", "quantum.traffic", "view")["allowed"]
    assert not check(checker, "dave", "amazon-us", "quantum.reports", "export")["allowed"]

    # Step-up covers the app's high-risk permission.
    status, body = owner("PATCH", "/v1/tenants/acme/settings", {"step_up": True})
    assert status == 200, body
    assert not check(checker, "dave", "amazon-us", "quantum.campaigns", "edit")["allowed"]
    assert check(checker, "dave", "amazon-us", "quantum.campaigns", "edit",
                 context={"second_factor": True})["allowed"]
    assert check(checker, "dave", "amazon-us", "quantum.traffic", "view")["allowed"]

    # globex has not installed it: denied, with the reason, for any key that may ask.
    for caller in (globex, quantum):
        body = check(caller, "owner", "main", "quantum.traffic", "view", tenant="globex") \
            if caller is quantum else check(caller, "owner", "main", "quantum.traffic", "view")
        assert body["allowed"] is False and body["reason"] == "app_not_installed", body

    # The app key asks about its own permissions in a tenant that installed it, and
    # nothing else.
    assert check(quantum, "dave", "amazon-us", "quantum.traffic", "view",
                 tenant="acme")["allowed"]
    status, body = quantum("POST", "/check", {"tenant": "acme", "subject": "dave",
                                              "store": "amazon-us", "object": "orders",
                                              "action": "view"})
    assert status == 403, body
    status, body = quantum("POST", "/explain", {"tenant": "acme", "subject": "dave",
                                                "store": "amazon-us",
                                                "object": "quantum.traffic", "action": "view"})
    assert status == 403, body  # the rules behind a decision are a read of the policy
    status, body = quantum("POST", "/check/batch", {"checks": [
        {"tenant": "acme", "subject": "dave", "store": "amazon-us",
         "object": "quantum.traffic", "action": "view"},
        {"tenant": "acme", "subject": "dave", "store": "amazon-us", "object": "orders",
         "action": "view"}]})
    assert status == 403, body
    for method, path, payload in [("GET", "/v1/tenants/acme/policy", None),
                                  ("GET", "/v1/tenants/acme/export.csv", None),
                                  ("PUT", "/v1/tenants/acme/apps/quantum", {}),
                                  ("POST", "/v1/tenants", {"tenant": "evil"}),
                                  ("POST", "/v1/apps", {"app": "evil", "name": NAME})]:
        status, _ = quantum(method, path, payload)
        assert status in (401, 403), (method, path, status)
    register(client, "other")
    status, body = quantum("PUT", "/v1/apps/other/catalogue", V1)
    assert status == 403, body

    # The export replays in stock pycasbin, app permissions included.
    export = client.get("/v1/tenants/acme/export.csv",
                        headers={"Authorization": f"Bearer {ACME_OWNER}"}).get_data(True)
    assert "g2, app:quantum, acme" in export
    enforcer = replay(export)
    for subject in ("dave", "alice", "ivan", "owner"):
        for store in ("amazon-us", "tmall-flagship", "shopee-sg"):
            for obj, action in (("quantum.traffic", "view"), ("quantum.campaigns", "edit"),
                                ("quantum.reports", "export")):
                for mfa in (False, True):
                    expected = enforcer.enforce(f"user:acme:{subject}", f"acme/{store}", obj,
                                                action, "passed" if mfa else "", "", "", "")
                    got = check(checker, subject, store, obj, action,
                                context={"second_factor": mfa})["allowed"]
                    assert got == expected, (subject, store, obj, action, mfa)

    # v2 renames campaigns:edit: the dry run names acme and dave's rule, then dave's grant
    # follows, in acme's ledger by app:quantum.
    status, preview = quantum("PUT", "/v1/apps/quantum/catalogue?dry_run=true", V2)
    assert status == 200 and preview["dry_run"] is True, preview
    dave_rule = "p, user:acme:dave, acme/amazon-us, quantum.campaigns, edit, allow"
    assert preview["tenants"]["acme"]["renamed_rules"] == {
        dave_rule: dave_rule.replace("edit", "manage")}
    assert quantum("GET", "/v1/apps/quantum")[1]["version"] == 1  # nothing stored
    status, published = quantum("PUT", "/v1/apps/quantum/catalogue", V2)
    assert status == 200 and published["version"] == 2, published
    assert published["tenants"]["acme"]["renamed_rules"] == preview["tenants"]["acme"][
        "renamed_rules"]
    [entry] = ledger_entries(owner, "app:quantum")
    assert entry["revision"] == published["tenants"]["acme"]["revision"], entry
    assert check(checker, "dave", "amazon-us", "quantum.campaigns", "manage",
                 context={"second_factor": True})["allowed"]
    assert not check(checker, "dave", "amazon-us", "quantum.campaigns", "manage")["allowed"]
    assert not check(checker, "dave", "amazon-us", "quantum.campaigns", "edit",
                     context={"second_factor": True})["allowed"]
    status, body = owner("GET", "/v1/tenants/acme/catalogue")
    names = {p["name"] for p in body["permissions"]}
    assert "quantum.campaigns:manage" in names and "quantum.campaigns:edit" not in names
    assert "orders:view" in names and body["apps"] == ["quantum"]

    # Removing a permission a tenant grants is refused; admin too.
    v3 = {"permissions": V2["permissions"][1:]}
    status, body = quantum("PUT", "/v1/apps/quantum/catalogue", v3)
    assert status == 409 and "acme" in str(body["errors"]), body

    # Uninstall: the dry run lists exactly what goes, then it goes.
    before = client.get("/v1/tenants/acme/export.csv",
                        headers={"Authorization": f"Bearer {ACME_OWNER}"}).get_data(True)
    status, dry = owner("DELETE", "/v1/tenants/acme/apps/quantum?dry_run=true")
    assert status == 200 and dry["dry_run"] is True, dry
    app_lines = sorted(line for line in before.splitlines()
                       if "quantum" in line or "role:acme:quantum-analyst" in line)
    assert sorted(dry["removed_rules"]) == app_lines
    assert dry["roles_removed"] == ["quantum-analyst"]
    status, gone = owner("DELETE", "/v1/tenants/acme/apps/quantum")
    assert status == 200 and gone["removed_rules"] == dry["removed_rules"], gone
    after = client.get("/v1/tenants/acme/export.csv",
                       headers={"Authorization": f"Bearer {ACME_OWNER}"}).get_data(True)
    assert "quantum" not in after
    assert sorted(set(before.splitlines()) - set(after.splitlines())) == app_lines
    body = check(checker, "dave", "amazon-us", "quantum.traffic", "view")
    assert body["allowed"] is False and body["reason"] == "app_not_installed"


def test_catalogue_versions_are_validated_whole(client):
    quantum = register(client)
    bad = [
        ({"permissions": []}, "permissions"),
        ({"permissions": [{"name": "Traffic:View", "description": NAME}]}, "permissions[0].name"),
        ({"permissions": [{"name": "a:b", "description": {"en": "x"}}]},
         "permissions[0].description"),
        ({"permissions": [{"name": "a:b", "description": NAME, "per_product": "yes"}]},
         "permissions[0].per_product"),
        ({"permissions": [{"name": "a:b", "description": NAME, "colour": "red"}]},
         "permissions[0]"),
        ({"permissions": [{"name": "a:b", "description": NAME}], "deprecated": ["c:d"]},
         "deprecated[0]"),
        ({"permissions": [{"name": "a:b", "description": NAME}], "renames": {"x:y": "a:b"}},
         "renames.x:y"),
        ({"permissions": [{"name": "a:b", "description": NAME}], "extra": 1}, "extra"),
        ({"permissions": [{"name": "a:b", "description": NAME, "owner_only": True}],
          "role_templates": {"r": ["a:b"]}}, "role_templates.r"),
    ]
    for body, field in bad:
        status, answer = quantum("PUT", "/v1/apps/quantum/catalogue", body)
        assert status == 422, (body, answer)
        assert field in answer["errors"], (field, answer)
    assert quantum("GET", "/v1/apps/quantum")[1]["version"] is None
    status, answer = quantum("PUT", "/v1/apps/quantum/catalogue", {
        "permissions": [{"name": "a:b", "description": NAME}], "deprecated": ["a:b"]})
    assert status == 200, answer
    # A deprecated permission is not grantable.
    owner = Caller(client, ACME_OWNER)
    assert owner("PUT", "/v1/tenants/acme/apps/quantum", {})[0] == 200
    status, answer = owner("POST", "/v1/tenants/acme/permissions", {
        "subject": "dave", "store": "amazon-us", "permission": "quantum.a:b"})
    assert status == 422 and "deprecated" in str(answer), answer


def test_app_names_are_input_too(client):
    admin = Caller(client, ADMIN)
    for app in ("Q", "a", "-x", "x.y", "x_y", "x" * 33, "1abc", "quantum\x00", 5, None):
        status, body = admin("POST", "/v1/apps", {"app": app, "name": NAME})
        assert status == 422, (app, body)
    for name in ({"en": "x"}, {"en": "", "zh-CN": "y"}, "Quantum", {"en": "x", "zh-CN": "y",
                                                                  "fr": "z"}):
        status, body = admin("POST", "/v1/apps", {"app": "quantum", "name": name})
        assert status == 422 and "name" in str(body["errors"]), (name, body)
    register(client)
    status, body = admin("POST", "/v1/apps", {"app": "quantum", "name": NAME})
    assert status == 409, body
    owner = Caller(client, ACME_OWNER)
    for path in ("/v1/tenants/acme/apps/NOPE", "/v1/tenants/acme/apps/ghost"):
        status, body = owner("PUT", path, {})
        assert status in (404, 422), (path, body)
    status, body = owner("PUT", "/v1/tenants/acme/apps/quantum", {})
    assert status == 409, body  # no catalogue published yet


def test_only_owners_and_the_admin_install_and_nobody_else_reaches_apps(app, client):
    from .test_hostile import snapshot

    quantum = register(client)
    assert quantum("PUT", "/v1/apps/quantum/catalogue", V1)[0] == 200
    before = snapshot(app)
    for token in (GLOBEX_OWNER, ACME_CHECK, ACME_AUDIT, quantum.headers["Authorization"][7:]):
        caller = Caller(client, token)
        for method, path in TENANT_ROUTES[:2]:
            status, _ = caller(method, path, {} if method == "PUT" else None)
            assert status == 403, (token, method, path, status)
        for method, path, body in [("PUT", "/v1/apps/quantum/catalogue", V1),
                                   ("POST", "/v1/apps/quantum/keys", {}),
                                   ("GET", "/v1/apps/quantum", None)]:
            if token == quantum.headers["Authorization"][7:]:
                continue
            status, _ = caller(method, path, body)
            assert status == 403, (token, method, path, status)
    assert snapshot(app) == before
    # Readers of the tenant (and its check key: storefronts draw menus) see its catalogue.
    for token in (ACME_OWNER, ACME_AUDIT, ACME_CHECK, ADMIN):
        assert Caller(client, token)("GET", "/v1/tenants/acme/catalogue")[0] == 200
    assert Caller(client, GLOBEX_OWNER)("GET", "/v1/tenants/acme/catalogue")[0] == 403


def test_app_keys_rotate_with_an_overlap_and_then_stop(client, monkeypatch):
    from service.runtime import replica

    monkeypatch.setattr(replica, "APP_KEY_SECONDS", 0.0)  # read again on every request
    quantum = register(client)
    old_id = quantum("GET", "/v1/apps/quantum")[1]  # works
    assert old_id["app"] == "quantum"
    status, body = Caller(client, ADMIN)("GET", "/v1/apps/quantum")
    assert status == 200
    key_id = quantum.headers["Authorization"][7:].split(".")[0]
    status, rotated = quantum("POST", "/v1/apps/quantum/keys",
                              {"replaces": key_id, "overlap_seconds": 0})
    assert status == 201, rotated
    fresh = Caller(client, rotated["token"])
    assert fresh("GET", "/v1/apps/quantum")[0] == 200
    assert quantum("GET", "/v1/apps/quantum")[0] == 401
    status, body = fresh("POST", "/check", {"tenant": "acme", "subject": "dave",
                                            "store": "amazon-us", "object": "quantum.x",
                                            "action": "view"})
    assert status == 200 and body["reason"] == "app_not_installed", body
    # Revoking: not the app's last key by the app itself; the admin may cut it off.
    status, body = fresh("DELETE", f"/v1/apps/quantum/keys/{rotated['key_id']}")
    assert status == 409, body
    status, spare = fresh("POST", "/v1/apps/quantum/keys", {})
    assert status == 201, spare
    status, body = fresh("DELETE", f"/v1/apps/quantum/keys/{spare['key_id']}")
    assert status == 200, body
    assert Caller(client, spare["token"])("GET", "/v1/apps/quantum")[0] == 401
    assert fresh("DELETE", "/v1/apps/quantum/keys/k-nope")[0] == 404
    other = register(client, "other")
    assert other("DELETE", f"/v1/apps/quantum/keys/{rotated['key_id']}")[0] == 403
    status, body = Caller(client, ADMIN)("DELETE",
                                         f"/v1/apps/quantum/keys/{rotated['key_id']}")
    assert status == 200, body
    assert fresh("GET", "/v1/apps/quantum")[0] == 401


def installed(client) -> tuple[Caller, Caller]:
    """quantum v1 installed in acme, operator holding quantum.traffic:view and dave
    quantum.campaigns:edit in amazon-us: (the app's key, acme's owner)."""
    quantum, owner = register(client), Caller(client, ACME_OWNER, "acme")
    assert quantum("PUT", "/v1/apps/quantum/catalogue", V1)[0] == 200
    assert owner("PUT", "/v1/tenants/acme/apps/quantum", {})[0] == 200
    status, roles = owner("GET", "/v1/tenants/acme/roles")
    operator = next(r["permissions"] for r in roles["roles"] if r["role"] == "operator")
    assert owner("PUT", "/v1/tenants/acme/roles/operator",
                 {"permissions": operator + ["quantum.traffic:view"]})[0] == 200
    assert owner("POST", "/v1/tenants/acme/permissions", {
        "subject": "dave", "store": "amazon-us",
        "permission": "quantum.campaigns:edit"})[0] == 200
    return quantum, owner


def test_export_lint_and_import_treat_app_permissions_like_built_in_ones(client):
    quantum, owner = installed(client)
    export = client.get("/v1/tenants/acme/export.csv", headers=owner.headers).get_data(True)
    status, findings = owner("POST", "/v1/tenants/acme/lint", {"csv": export})
    assert status == 200 and not [f for f in findings["findings"]
                                  if f["severity"] == "error"], findings
    # The export imports back as it is: nothing to change.
    status, plan = owner("POST", "/v1/tenants/acme/import", {"csv": export, "dry_run": True})
    assert status == 200 and plan["added"] == plan["removed"] == [], plan
    # One bad line (a permission the app's catalogue does not hold) refuses the whole file
    # and names the line.
    lines = export.splitlines()
    bad = lines + ["p, user:acme:dave, acme/amazon-us, quantum.campaigns, delete, allow"]
    status, body = owner("POST", "/v1/tenants/acme/import",
                         {"csv": "\n".join(bad) + "\n", "dry_run": False})
    assert status == 422 and f"line {len(bad)}" in str(body), body
    assert client.get("/v1/tenants/acme/export.csv",
                      headers=owner.headers).get_data(True) == export
    # A file without the app's marker line may not name its permissions.
    unmarked = [line for line in lines if not line.startswith("g2, app:")]
    status, body = owner("POST", "/v1/tenants/acme/import",
                         {"csv": "\n".join(unmarked) + "\n", "dry_run": True})
    assert status == 422 and "not installed" in str(body), body
    # Importing the export without the app's lines is an uninstall, with its plan.
    without = [line for line in lines if "quantum" not in line]
    status, plan = owner("POST", "/v1/tenants/acme/import",
                         {"csv": "\n".join(without) + "\n", "dry_run": True})
    assert status == 200, plan
    assert sorted(plan["removed"]) == sorted(line for line in lines if "quantum" in line)
    assert any(c["permission"] == "quantum.campaigns:edit" and c["subject"] == "dave"
               for c in plan["decision_changes"]["items"]), plan["decision_changes"]


def test_who_can_and_the_matrix_know_the_tenants_apps(client):
    _, owner = installed(client)
    status, body = owner("GET", "/v1/tenants/acme/who-can?permission=quantum.campaigns:edit"
                                "&store=amazon-us")
    assert status == 200, body
    assert {item["subject"] for item in body["items"]} == {"dave", "owner"}, body
    status, body = owner("GET", "/v1/tenants/acme/stores/amazon-us/matrix")
    assert status == 200 and "quantum.traffic:view" in body["permissions"], body
    status, body = owner("GET", "/v1/tenants/globex/who-can?permission=quantum.traffic:view"
                                "&store=main")
    assert status == 403
    admin = Caller(client, ADMIN)
    status, body = admin("GET", "/v1/tenants/globex/who-can?permission=quantum.traffic:view"
                                "&store=main")
    assert status == 422 and "not installed" in str(body), body


def test_allowed_high_risk_app_decisions_are_always_logged(app, client):
    quantum, owner = installed(client)
    log = app.extensions["authz"].decision_log
    with app.app_context():
        log.flush()  # the writer reads the apps' high-risk permissions
    assert ("quantum.campaigns", "edit") in log.high_risk
    checker = Caller(client, ACME_CHECK)
    assert check(checker, "dave", "amazon-us", "quantum.campaigns", "edit")["allowed"]
    with app.app_context():
        log.flush()
    status, body = owner("GET", "/v1/tenants/acme/decisions?subject=dave")
    assert status == 200, body
    [entry] = [e for e in body["entries"] if e["permission"] == "quantum.campaigns:edit"]
    assert entry["allowed"] is True and entry["sampled"] is False, entry


def test_what_can_this_user_do_here(client):
    quantum, owner = installed(client)
    checker, foreign = Caller(client, ACME_CHECK), Caller(client, GLOBEX_CHECK)
    path = "/v1/tenants/acme/allowed/permissions?subject=dave&store=amazon-us"
    status, body = checker("GET", path)
    assert status == 200, body
    listed = set(body["permissions"])
    assert {"quantum.traffic:view", "quantum.campaigns:edit", "products:edit"} <= listed
    assert "prices:change" in listed and "finance:withdraw" not in listed
    # Each one is what /check answers, and nothing /check allows is missing.
    status, catalogue = owner("GET", "/v1/tenants/acme/catalogue")
    for p in catalogue["permissions"]:
        assert check(checker, "dave", "amazon-us", p["area"], p["action"])["allowed"] == (
            p["name"] in listed), p["name"]
    status, tmall = checker("GET", "/v1/tenants/acme/allowed/permissions?subject=dave"
                                   "&store=tmall-flagship")
    assert "prices:change" not in tmall["permissions"]  # his deny there (R8)
    assert "quantum.campaigns:edit" not in tmall["permissions"]
    # The app key: its own permissions only, in any tenant (globex has not installed it).
    status, body = quantum("GET", path)
    assert status == 200 and body["permissions"] == ["quantum.campaigns:edit",
                                                      "quantum.traffic:view"], body
    status, body = quantum("GET", "/v1/tenants/globex/allowed/permissions?subject=owner"
                                  "&store=main")
    assert status == 200 and body["permissions"] == [], body
    # The owner holds everything, apps included; globex's owner holds no app permission.
    status, body = checker("GET", "/v1/tenants/acme/allowed/permissions?subject=owner"
                                  "&store=amazon-us")
    assert len(body["permissions"]) == len(catalogue["permissions"])
    status, body = Caller(client, GLOBEX_CHECK)("GET", "/v1/tenants/globex/allowed/"
                                                        "permissions?subject=owner&store=main")
    assert not [p for p in body["permissions"] if "." in p], body
    # Stores where: complete, paginated.
    status, body = checker("GET", "/v1/tenants/acme/allowed/stores?subject=dave"
                                  "&permission=quantum.traffic:view&per_page=1")
    assert status == 200 and body["total"] == 2 and body["stores"] == ["amazon-us"], body
    status, body = checker("GET", "/v1/tenants/acme/allowed/stores?subject=dave"
                                  "&permission=quantum.traffic:view&per_page=1&page=2")
    assert body["stores"] == ["tmall-flagship"], body
    status, body = quantum("GET", "/v1/tenants/acme/allowed/stores?subject=dave"
                                  "&permission=orders:view")
    assert status == 403, body
    for bad in ("subject=dave", "subject=dave&store=amazon-us&colour=red",
                "subject=Dave&store=amazon-us", "subject=dave&store=amazon-us&second_factor=7"):
        status, body = checker("GET", f"/v1/tenants/acme/allowed/permissions?{bad}")
        assert status == 422, (bad, body)
    assert checker("GET", "/v1/tenants/acme/allowed/stores?subject=dave&permission=x")[0] \
        == 422
    assert foreign("GET", path)[0] == 403


def test_moving_in_the_settings_made_in_the_tool(client):
    """The seed's sellers who set up sub-accounts in the tool: the app (or the owner)
    imports them, a dry run first; one bad item refuses the whole import, naming it."""
    quantum, owner = register(client), Caller(client, ACME_OWNER, "acme")
    assert quantum("PUT", "/v1/apps/quantum/catalogue", {
        **V1, "permissions": V1["permissions"] + [
            {"name": "billing:pay", "owner_only": True, "description": NAME}]})[0] == 200
    grants = [{"subject": "dave", "store": "amazon-us", "permissions": ["campaigns:edit"]},
              {"subject": "carol", "store": "all", "permissions": ["traffic:view"]}]
    path = "/v1/tenants/acme/apps/quantum/import"
    status, body = quantum("POST", path, {"grants": grants})
    assert status == 409, body  # not installed: the owner decides that first
    assert owner("PUT", "/v1/tenants/acme/apps/quantum", {})[0] == 200
    export = client.get("/v1/tenants/acme/export.csv", headers=owner.headers).get_data(True)
    bad = grants + [
        {"subject": "nobody", "store": "amazon-us", "permissions": ["traffic:view"]},
        {"subject": "dave", "store": "shopee-sg", "permissions": ["traffic:view"]},
        {"subject": "dave", "store": "amazon-us", "permissions": ["billing:pay"]},
        {"subject": "dave", "store": "amazon-us", "permissions": ["traffic:delete"]},
        {"subject": "dave", "store": "mars", "permissions": ["traffic:view"]}]
    status, body = quantum("POST", path, {"grants": bad, "dry_run": False})
    assert status == 422, body
    assert set(body["errors"]) == {"grants[2].subject", "grants[3].store",
                                   "grants[4].permissions[0]", "grants[5].permissions[0]",
                                   "grants[6].store"}, body
    assert client.get("/v1/tenants/acme/export.csv",
                      headers=owner.headers).get_data(True) == export
    status, plan = quantum("POST", path, {"grants": grants})
    assert status == 200 and plan["dry_run"] is True, plan
    carol_stores = ["amazon-us", "shopee-sg", "tmall-flagship"]  # all she is assigned
    assert sorted(plan["added"]) == sorted(
        ["p, user:acme:dave, acme/amazon-us, quantum.campaigns, edit, allow"]
        + [f"p, user:acme:carol, acme/{s}, quantum.traffic, view, allow" for s in carol_stores])
    assert client.get("/v1/tenants/acme/export.csv",
                      headers=owner.headers).get_data(True) == export
    status, done = quantum("POST", path, {"grants": grants, "dry_run": False})
    assert status == 200 and done["added"] == plan["added"], done
    assert done["revision"] == plan["revision"] + 1  # one revision
    [entry] = ledger_entries(owner, "app:quantum")
    assert entry["revision"] == done["revision"]
    checker = Caller(client, ACME_CHECK)
    assert check(checker, "dave", "amazon-us", "quantum.campaigns", "edit")["allowed"]
    for store in carol_stores:
        assert check(checker, "carol", store, "quantum.traffic", "view")["allowed"]
    # Again: nothing new.
    status, again = owner("POST", path, {"grants": grants})
    assert again["added"] == [] and len(again["already_granted"]) == len(done["added"])
    # The same, as a file of the tool's settings: one bad line refuses the file, named.
    text = ("# exported from quantum\n"
            "carol, amazon-us, campaigns:edit\n"
            "dave, tmall-flagship, traffic:view, campaigns:edit\n"
            "nobody, amazon-us, traffic:view\n")
    before_file = client.get("/v1/tenants/acme/export.csv", headers=owner.headers).get_data(True)
    status, body = quantum("POST", path, {"csv": text, "dry_run": False})
    assert status == 422 and set(body["errors"]) == {"line 4 (subject)"}, body
    assert client.get("/v1/tenants/acme/export.csv",
                      headers=owner.headers).get_data(True) == before_file
    status, body = quantum("POST", path, {"csv": text.rsplit("nobody", 1)[0],
                                          "dry_run": False})
    assert status == 200 and len(body["added"]) == 3, body
    assert quantum("POST", path, {"csv": text, "grants": grants})[0] == 422
    # Another app's key, or a foreign owner, may not import here.
    other = register(client, "other")
    assert other("POST", path, {"grants": grants})[0] == 403
    assert Caller(client, GLOBEX_OWNER)("POST", path, {"grants": grants})[0] == 403
    assert Caller(client, ACME_CHECK)("POST", path, {"grants": grants})[0] == 403


# -- hostile input on every app route --------------------------------------------------------
GRANTS = [{"subject": "dave", "store": "amazon-us", "permissions": ["traffic:view"]}]
# (method, path, a well-formed body, the statuses it may get, whose key)
HOSTILE_ROUTES = [
    ("POST", "/v1/apps", {"app": "hostile", "name": NAME}, (201,), "admin"),
    ("PUT", "/v1/apps/quantum/catalogue", V1, (200,), "app"),
    ("POST", "/v1/apps/quantum/keys", {"overlap_seconds": 0}, (201,), "app"),
    ("DELETE", "/v1/apps/quantum/keys/k-nope", None, (404,), "app"),
    ("PUT", "/v1/tenants/globex/apps/quantum", {}, (200,), "admin"),
    ("DELETE", "/v1/tenants/acme/apps/quantum?dry_run=true", None, (200,), "owner"),
    ("POST", "/v1/tenants/acme/apps/quantum/import", {"grants": GRANTS, "dry_run": True},
     (200,), "app"),
    ("GET", "/v1/tenants/acme/allowed/permissions?subject=dave&store=amazon-us", None, (200,),
     "check"),
    ("GET", "/v1/tenants/acme/allowed/stores?subject=dave&permission=quantum.traffic:view",
     None, (200,), "app"),
    ("GET", "/v1/apps/quantum", None, (200,), "app"),
    ("GET", "/v1/tenants/acme/catalogue", None, (200,), "check"),
    ("GET", "/v1/tenants/acme/apps", None, (200,), "owner"),
]
TEXTS = {"name", "description", "reason"}  # free text: any string is a legitimate value


def _hostile_bodies(body):
    """test_hostile's variants, with the apps' free text, and `a:b` for a permission name
    (well-formed in its own right)."""
    from .test_hostile import _variants

    return _variants(body, "", TEXTS, lambda value, was: value == "a:b" and ":" in str(was))


def _app_state(app, client) -> tuple:
    from .test_hostile import snapshot

    admin = Caller(client, ADMIN)
    return snapshot(app), admin("GET", "/v1/apps/quantum")[1], admin("GET", "/v1/apps/hostile")


def test_hostile_values_on_app_routes_change_nothing(app, client):
    from urllib.parse import quote

    from .test_hostile import HOSTILE_STRINGS, _assert_refused

    quantum = register(client)
    assert quantum("PUT", "/v1/apps/quantum/catalogue", V1)[0] == 200
    assert Caller(client, ACME_OWNER)("PUT", "/v1/tenants/acme/apps/quantum", {})[0] == 200
    tokens = {"admin": ADMIN, "owner": ACME_OWNER, "check": ACME_CHECK,
              "app": quantum.headers["Authorization"][7:]}
    for method, path, body, ok, who in HOSTILE_ROUTES:
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        before = _app_state(app, client)
        tried = 0
        for label, changed in _hostile_bodies(body) if body is not None else ():
            response = client.open(path, method=method, json=changed, headers=headers)
            _assert_refused(response, f"{path} {label}")
            tried += 1
        route, _, query = path.partition("?")
        for i, part in enumerate(route.split("/")):
            if part not in ("acme", "globex", "quantum"):
                continue
            for value in HOSTILE_STRINGS:
                if not value or value in ("%2e", "../x"):
                    continue  # routing, not our validation
                parts = route.split("/")
                parts[i] = quote(value, safe="")
                changed = "/".join(parts) + (f"?{query}" if query else "")
                response = client.open(changed, method=method, json=body, headers=headers)
                _assert_refused(response, f"{changed}")
                tried += 1
        for key, value in [p.split("=") for p in query.split("&")] if query else ():
            for bad in HOSTILE_STRINGS[:12]:
                changed = path.replace(f"{key}={value}", f"{key}={quote(bad, safe='')}")
                response = client.open(changed, method=method, headers=headers)
                _assert_refused(response, changed)
                tried += 1
        for label, raw in (("not json", b"{nope"), ("a list", b"[]"), ("a string", b'"x"')):
            if body is None:
                break
            response = client.open(path, method=method, data=raw, headers={
                **headers, "Content-Type": "application/json"})
            _assert_refused(response, f"{path} {label}")
            tried += 1
        assert _app_state(app, client) == before, path
        assert tried > 20, path
        response = client.open(path, method=method, json=body, headers=headers)
        assert response.status_code in ok, (path, response.get_json())


def test_an_app_key_reaches_no_tenant_route(app, client):
    """Every route that reads or changes a tenant (tests/api/test_escalation.py's lists)
    refuses an app's key, and nothing changes."""
    from .test_escalation import MORE, READS
    from .test_hostile import ROUTES, snapshot

    quantum = register(client)
    assert quantum("PUT", "/v1/apps/quantum/catalogue", V1)[0] == 200
    assert Caller(client, ACME_OWNER)("PUT", "/v1/tenants/acme/apps/quantum", {})[0] == 200
    before = snapshot(app)
    for method, path, body, _ in ROUTES + MORE:
        status, answer = quantum(method, path, body)
        assert status == 403, (method, path, status, answer)
    for path in READS:
        status, answer = quantum("GET", path)
        assert status == 403, (path, status, answer)
    assert snapshot(app) == before


def test_a_per_product_app_permission_in_a_store_run_by_product(client):
    """R17 for an app's permission: in tmall-flagship (run by product in the seed) only a
    product's operators pass it, asked about one product as <app>.<area>/product/<id>."""
    quantum, owner = register(client), Caller(client, ACME_OWNER, "acme")
    boost = {"name": "listings:boost", "per_product": True,
             "description": {"en": "Boost a listing", "zh-CN": "推广商品"}}
    assert quantum("PUT", "/v1/apps/quantum/catalogue",
                   {"permissions": V1["permissions"] + [boost]})[0] == 200
    assert owner("PUT", "/v1/tenants/acme/apps/quantum", {})[0] == 200
    export = client.get("/v1/tenants/acme/export.csv", headers=owner.headers).get_data(True)
    assert "p, by-product, acme/tmall-flagship, quantum.listings, boost, deny" in export
    status, roles = owner("GET", "/v1/tenants/acme/roles")
    operator = next(r["permissions"] for r in roles["roles"] if r["role"] == "operator")
    assert owner("PUT", "/v1/tenants/acme/roles/operator",
                 {"permissions": operator + ["quantum.listings:boost"]})[0] == 200
    checker = Caller(client, ACME_CHECK)
    one = "quantum.listings/product/sku-1002"  # dave operates it (the seed)
    assert check(checker, "dave", "tmall-flagship", one, "boost")["allowed"]
    assert not check(checker, "dave", "tmall-flagship", "quantum.listings/product/sku-9",
                     "boost")["allowed"]
    assert check(checker, "dave", "amazon-us", "quantum.listings/product/sku-9",
                 "boost")["allowed"]  # amazon-us runs by store
    assert check(checker, "owner", "tmall-flagship", "quantum.listings/product/sku-9",
                 "boost")["allowed"]  # the owner operates every product
    for bad in ("quantum.listings/product/", "quantum.listings/sku-1", "quantum/product/x",
                "quantum.listings/product/a/b", "product/quantum.listings"):
        status, body = checker("POST", "/check", {"subject": "dave", "store": "amazon-us",
                                                  "object": bad, "action": "boost"})
        assert (status == 422) != (bad == "product/quantum.listings"), (bad, status, body)
    # A store switched to by-product now covers the app's permission too; back again.
    assert owner("PUT", "/v1/tenants/acme/stores/amazon-us/mode", {"mode": "by-product"})[0] \
        == 200
    assert not check(checker, "dave", "amazon-us", "quantum.listings/product/sku-9",
                     "boost")["allowed"]
    # A version that drops the mark takes the by-product rules away (one write per tenant).
    status, body = quantum("PUT", "/v1/apps/quantum/catalogue", {
        "permissions": V1["permissions"] + [{**boost, "per_product": False}]})
    assert status == 200 and body["tenants"]["acme"]["by_product_removed"] == sorted(
        f"p, by-product, acme/{s}, quantum.listings, boost, deny"
        for s in ("amazon-us", "tmall-flagship")), body
    assert check(checker, "dave", "tmall-flagship", "quantum.listings/product/sku-9",
                 "boost")["allowed"]
    export = client.get("/v1/tenants/acme/export.csv", headers=owner.headers).get_data(True)
    status, lint = owner("POST", "/v1/tenants/acme/lint", {"csv": export})
    assert not [f for f in lint["findings"] if f["severity"] == "error"], lint
    status, dry = owner("DELETE", "/v1/tenants/acme/apps/quantum?dry_run=true")
    assert status == 200 and "quantum.listings" in str(dry["removed_rules"])


def test_a_time_boxed_app_grant_keeps_its_end_through_a_rename(client):
    quantum, owner = register(client), Caller(client, ACME_OWNER, "acme")
    assert quantum("PUT", "/v1/apps/quantum/catalogue", V1)[0] == 200
    assert owner("PUT", "/v1/tenants/acme/apps/quantum", {})[0] == 200
    status, body = owner("POST", "/v1/tenants/acme/permissions", {
        "subject": "dave", "store": "amazon-us", "permission": "quantum.campaigns:edit",
        "expires_at": "2999-01-01T00:00:00+00:00"})
    assert status == 200, body
    status, before = owner("GET", "/v1/tenants/acme/expiring-grants")
    assert [g["rule"] for g in before["grants"]] == [
        "p, user:acme:dave, acme/amazon-us, quantum.campaigns, edit, allow"], before
    assert quantum("PUT", "/v1/apps/quantum/catalogue", V2)[0] == 200
    status, after = owner("GET", "/v1/tenants/acme/expiring-grants")
    assert [(g["rule"], g["expires_at"]) for g in after["grants"]] == [
        ("p, user:acme:dave, acme/amazon-us, quantum.campaigns, manage, allow",
         before["grants"][0]["expires_at"])], after


def test_an_expired_app_grant_is_swept_like_any_other(app, client):
    from datetime import UTC, datetime

    from service.storage import policy_store
    from service.usecases import expiry

    quantum, owner = register(client), Caller(client, ACME_OWNER, "acme")
    assert quantum("PUT", "/v1/apps/quantum/catalogue", V1)[0] == 200
    assert owner("PUT", "/v1/tenants/acme/apps/quantum", {})[0] == 200
    assert owner("POST", "/v1/tenants/acme/permissions", {
        "subject": "dave", "store": "amazon-us", "permission": "quantum.campaigns:edit",
        "expires_at": "2999-01-01T00:00:00+00:00"})[0] == 200
    checker = Caller(client, ACME_CHECK)
    assert check(checker, "dave", "amazon-us", "quantum.campaigns", "edit")["allowed"]
    with app.app_context():
        [swept] = expiry.sweep(policy_store.SQL, datetime(2999, 1, 2, tzinfo=UTC))
        assert swept.changed and [r.csv() for r in swept.change.removed] == [
            "p, user:acme:dave, acme/amazon-us, quantum.campaigns, edit, allow"]
        app.extensions["authz"].replica.committed(swept)
    assert not check(checker, "dave", "amazon-us", "quantum.campaigns", "edit")["allowed"]
