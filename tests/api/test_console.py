"""The admin console without a browser (issue 9): sign-in, sessions, CSRF, who may do
what, errors next to fields with nothing changed, previews that change nothing, both
languages complete. tests/e2e/test_console_browser.py drives the same pages in Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.console import i18n
from service.domain import catalogue

from ..support import ACME_AUDIT, ACME_CHECK, ACME_OWNER, GLOBEX_OWNER
from .test_hostile import snapshot

TEMPLATES = Path(__file__).resolve().parents[2] / "service" / "console" / "templates"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client, path: str = "/console/login") -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def sign_in(client, token: str):
    return client.post("/console/login", data={"token": token,
                                               "csrf_token": csrf_of(client)})


@pytest.fixture
def owner_console(app):
    client = app.test_client()
    assert sign_in(client, ACME_OWNER).status_code == 302
    return client


def post(client, path: str, data: dict, page: str = "/console/subaccounts"):
    return client.post(path, data={**data, "csrf_token": csrf_of(client, page)})


# -- languages -------------------------------------------------------------------------------
def test_both_languages_have_every_key():
    assert set(i18n.EN) == set(i18n.ZH_CN)
    assert all(i18n.ZH_CN[k].strip() for k in i18n.ZH_CN)
    from service.domain import catalogue

    assert {p.name for p in catalogue.PERMISSIONS} == set(i18n.PERMISSIONS_ZH)
    assert {p.area for p in catalogue.PERMISSIONS} == set(i18n.AREAS_ZH)


def test_every_key_a_template_asks_for_exists():
    asked = set()
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        asked |= {k for k in re.findall(r'\bt\("([a-z_.A-Z-]+)"', text) if not k.endswith(".")}
        for prefix in re.findall(r'\bt\("([a-z_.]+\.)" ~', text):
            asked |= {k for k in i18n.EN if k.startswith(prefix)}
            assert any(k.startswith(prefix) for k in i18n.EN), prefix
    missing = sorted(k for k in asked if k not in i18n.EN)
    assert not missing
    for dynamic in ("scope.owner", "scope.audit", "status.active", "status.disabled",
                    "batch.mode.add", "batch.mode.remove", "batch.mode.reset", "lang.en",
                    "lang.zh-CN"):
        assert dynamic in i18n.EN


def test_the_tenant_language_and_a_personal_choice(app, owner_console, owner):
    page = owner_console.get("/console/subaccounts").get_data(as_text=True)
    assert "Sub-accounts" in page and "子账号" not in page.split("<main>")[1]
    assert owner("PATCH", "/v1/tenants/acme/settings", {"language": "zh-CN"})[0] == 200
    page = owner_console.get("/console/subaccounts").get_data(as_text=True)
    assert "已使用" in page and '<html lang="zh-CN">' in page
    post(owner_console, "/console/language", {"lang": "en"})
    assert '<html lang="en">' in owner_console.get("/console/subaccounts").get_data(
        as_text=True)
    status, body = owner("PATCH", "/v1/tenants/acme/settings", {"language": "fr"})
    assert status == 422 and "language" in body["errors"]["json"]


# -- signing in --------------------------------------------------------------------------------
def test_only_owner_and_audit_keys_sign_in(app):
    client = app.test_client()
    assert client.get("/console/subaccounts").status_code == 302
    for token, shown in ((ACME_CHECK, "not an owner or audit key"),
                         ("acme-owner.wrong-secret-wrong-secret", "invalid token")):
        response = sign_in(client, token)
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and 'data-field="token"' in page and shown in page
        assert client.get("/console/subaccounts").status_code == 302
    assert sign_in(client, ACME_AUDIT).headers["Location"] == "/console/"


def test_the_session_keeps_no_key_and_its_cookie_is_guarded(app):
    client = app.test_client()
    response = sign_in(client, ACME_OWNER)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    import base64

    payload = cookie.split("=", 1)[1].split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert ACME_OWNER.split(".")[1].encode() not in decoded


def test_revoking_the_key_ends_its_console_sessions(app, owner):
    status, created = owner("POST", "/v1/tenants/acme/keys", {"scope": "owner"})
    assert status == 201
    client = app.test_client()
    assert sign_in(client, created["token"]).status_code == 302
    assert client.get("/console/subaccounts").status_code == 200
    assert owner("DELETE", f"/v1/tenants/acme/keys/{created['key_id']}")[0] == 200
    response = client.get("/console/subaccounts")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_sign_out(owner_console):
    post(owner_console, "/console/logout", {})
    assert owner_console.get("/console/subaccounts").status_code == 302


def test_a_cookie_copied_before_sign_out_no_longer_works(app):
    """Sign-out ends the session on the server, not only in the browser that signed out."""
    client = app.test_client()
    assert sign_in(client, ACME_OWNER).status_code == 302
    copied = client.get_cookie("authz_console").value
    thief = app.test_client()
    thief.set_cookie("authz_console", copied)
    assert thief.get("/console/subaccounts").status_code == 200
    post(client, "/console/logout", {})
    response = thief.get("/console/subaccounts")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_a_next_with_a_line_break_is_ignored(app):
    client = app.test_client()
    response = client.post("/console/login", data={
        "token": ACME_OWNER, "csrf_token": csrf_of(client),
        "next": "/console/subaccounts\r\nSet-Cookie: x=1"})
    assert response.status_code == 302  # signed in, sent home: not a 500, no header split
    assert response.headers["Location"].endswith("/console/")
    assert "x=1" not in response.headers.get("Set-Cookie", "")


def test_a_profile_edit_clears_the_phone_and_refuses_a_blank_name_or_email(owner_console,
                                                                           owner):
    page = "/console/subaccounts/alice"
    form = {"display_name": "Alice", "email": "alice@acme.test", "phone": "+1 555 0101",
            "note": ""}
    assert post(owner_console, page + "/profile", form, page).status_code == 302
    assert owner("GET", "/v1/tenants/{t}/subaccounts/alice")[1]["phone"] == "+1 555 0101"
    assert post(owner_console, page + "/profile", {**form, "phone": ""}, page).status_code == 302
    assert owner("GET", "/v1/tenants/{t}/subaccounts/alice")[1]["phone"] == ""
    for blank in ({"email": ""}, {"display_name": "  "}):
        response = post(owner_console, page + "/profile", {**form, **blank}, page)
        assert response.status_code == 200  # the form again, the error at its field
        assert "saved" not in response.get_data(as_text=True).lower()
        profile = owner("GET", "/v1/tenants/{t}/subaccounts/alice")[1]
        assert (profile["email"], profile["display_name"]) == ("alice@acme.test", "Alice")
    status, body = owner("PATCH", "/v1/tenants/{t}/subaccounts/alice", {"display_name": ""})
    assert status == 422 and "display_name" in body["errors"]["json"]


# -- CSRF and who may write ---------------------------------------------------------------------
def test_a_post_without_the_sessions_csrf_token_changes_nothing(app, owner_console):
    before = snapshot(app)
    form = {"login": "mallory", "display_name": "M", "email": "m@example.com",
            "stores": "amazon-us"}
    for token in (None, "forged", csrf_of(app.test_client())):  # another session's token
        data = form if token is None else {**form, "csrf_token": token}
        response = owner_console.post("/console/subaccounts/new", data=data)
        assert response.status_code == 400
        assert "nothing was changed" in response.get_data(as_text=True)
    assert snapshot(app) == before


OWNER_FORMS = [
    ("/console/subaccounts/new", {"login": "x1", "display_name": "X", "email": "x@e.com",
                                  "stores": "amazon-us"}),
    ("/console/subaccounts/alice/status", {"disabled": "1"}),
    ("/console/subaccounts/alice/stores", {"stores": "amazon-us"}),
    ("/console/subaccounts/alice/grants", {"role": "finance", "stores": "amazon-us"}),
    ("/console/departments", {"department": "legal"}),
    ("/console/roles", {"role": "auditor", "permissions": "orders:view"}),
    ("/console/stores", {"store": "ebay-de"}),
    ("/console/stores/amazon-us/revoke", {}),
    ("/console/batch", {"mode": "add", "subjects": "alice", "stores": "shopee-sg",
                        "action": "apply"}),
    ("/console/settings", {"language": "zh-CN"}),
]


def test_an_audit_key_reads_everything_and_changes_nothing(app):
    client = app.test_client()
    sign_in(client, ACME_AUDIT)
    for path in ("/console/matrix", "/console/ledger", "/console/decisions",
                 "/console/files", "/console/export.csv", "/console/model.conf"):
        assert client.get(path).status_code == 200, path
    before = snapshot(app)
    for path, data in OWNER_FORMS:
        response = post(client, path, data, page="/console/matrix")
        assert response.status_code == 403, path
    for path in ("/console/subaccounts", "/console/roles", "/console/batch"):
        assert client.get(path).status_code == 403
    assert snapshot(app) == before


def test_every_owner_form_writes_through_the_service(app, owner_console, owner):
    for path, data in OWNER_FORMS:
        response = post(owner_console, path, data)
        assert response.status_code == 302, (path, response.get_data(as_text=True)[:500])
    _, entries = owner("GET", "/v1/tenants/acme/ledger?actor=owner:acme-owner&per_page=50")
    assert entries["total"] == len(OWNER_FORMS)


# -- errors next to fields, nothing changed --------------------------------------------------
@pytest.mark.parametrize("data,field", [
    ({"login": "Bad Login!", "display_name": "X", "email": "x@e.com", "stores": "amazon-us"},
     "login"),
    ({"login": "x2", "display_name": "X", "email": "nope", "stores": "amazon-us"}, "email"),
    ({"login": "x3", "display_name": "X", "email": "x@e.com"}, "stores"),
    ({"login": "x4", "display_name": "X", "email": "x@e.com", "stores": "nowhere"}, "stores"),
    ({"login": "alice", "display_name": "X", "email": "x@e.com", "stores": "amazon-us"},
     "login"),
    ({"login": "x5", "display_name": "X", "email": "x@e.com", "stores": "amazon-us",
      "roles": "no-such-role"}, "role"),
    ({"login": "x6", "display_name": "X", "email": "x@e.com", "stores": "amazon-us",
      "departments": "nowhere"}, "departments"),
])
def test_invalid_forms_show_the_error_at_the_field_and_change_nothing(app, owner_console,
                                                                       data, field):
    before = snapshot(app)
    response = post(owner_console, "/console/subaccounts/new", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'class="field-error" data-field="{field}"' in page, page[:3000]
    assert f'value="{data["login"]}"' in page  # what was typed is kept
    assert snapshot(app) == before


def test_the_cap_counter_and_the_hundredth_sub_account(app, owner_console, admin):
    admin("PATCH", "/v1/tenants/acme/settings", {"max_sub_accounts": 10})
    page = owner_console.get("/console/subaccounts").get_data(as_text=True)
    assert "10 of 10 sub-accounts used" in page and "new-subaccount" not in page
    response = post(owner_console, "/console/subaccounts/new", {
        "login": "x7", "display_name": "X", "email": "x@e.com", "stores": "amazon-us"})
    assert 'data-field="login"' in response.get_data(as_text=True)
    assert "limit of 10" in response.get_data(as_text=True)


# -- previews ------------------------------------------------------------------------------------
def test_batch_preview_shows_the_change_and_changes_nothing(app, owner_console):
    before = snapshot(app)
    response = post(owner_console, "/console/batch", {
        "mode": "reset", "subjects": ["alice", "bob"], "stores": "amazon-us"})
    page = response.get_data(as_text=True)
    assert 'id="batch-preview"' in page and 'id="apply-batch"' in page
    assert re.search(r'data-login="alice">.*?tmall-flagship', page, re.S)  # removed
    assert re.search(r'data-login="bob"><td>bob</td><td class="allow">amazon-us', page)
    assert snapshot(app) == before


def test_revoke_preview_lists_the_cascade_and_changes_nothing(app, owner_console, owner):
    before = snapshot(app)
    page = owner_console.get("/console/stores/shopee-sg/revoke").get_data(as_text=True)
    _, dry = owner("DELETE", "/v1/tenants/acme/stores/shopee-sg?dry_run=true")
    assert dry["dry_run"] is True and dry["removed_rules"]
    for rule in dry["removed_rules"]:
        assert rule in page
    for login in dry["disabled"]:
        assert f"<li>{login}</li>" in page
    assert snapshot(app) == before


def test_api_batch_dry_run_reports_the_same_as_the_write(owner):
    body = {"mode": "add", "subjects": ["alice", "bob"], "stores": ["shopee-sg"]}
    status, dry = owner("POST", "/v1/tenants/acme/subaccounts/batch-stores",
                        {**body, "dry_run": True})
    assert status == 200 and dry["dry_run"] is True
    assert dry["changes"] == {"alice": {"added": ["shopee-sg"], "removed": []}}
    assert "shopee-sg" not in owner("GET", "/v1/tenants/acme/subaccounts/alice")[1]["stores"]
    status, done = owner("POST", "/v1/tenants/acme/subaccounts/batch-stores", body)
    assert done["dry_run"] is False and done["changes"] == dry["changes"]
    assert done["revision"] == dry["revision"] + 1


# -- pages --------------------------------------------------------------------------------------
def test_pages_are_locked_down(owner_console):
    response = owner_console.get("/console/matrix")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in response.get_data(as_text=True)  # no inline script to allow


def test_matrix_cells_carry_the_reason_and_match_check(app, owner_console, checker):
    page = owner_console.get("/console/matrix?store=amazon-us").get_data(as_text=True)
    rows = re.findall(r'<tr data-subject="([^"]+)">(.*?)</tr>', page, re.S)
    assert len(rows) >= 5
    cells = 0
    for subject, row in rows:
        for verdict, permission, reason in re.findall(
                r'<td class="(yes|no)" data-permission="([^"]+)" title="([^"]*)">', row):
            area, action = permission.split(":")
            allowed = checker.check(subject, "amazon-us", area, action)
            assert allowed == (verdict == "yes"), (subject, permission)
            assert reason.startswith("allowed" if allowed else "denied"), reason
            cells += 1
    assert cells == len(rows) * len(catalogue.PERMISSIONS)


def test_another_tenants_owner_sees_only_its_own(app):
    client = app.test_client()
    sign_in(client, GLOBEX_OWNER)
    page = client.get("/console/subaccounts").get_data(as_text=True)
    assert 'data-login="alice"' in page and 'data-login="carol"' not in page  # acme's carol
    assert client.get("/console/subaccounts/carol").status_code == 404
    matrix = client.get("/console/matrix?store=amazon-us").get_data(as_text=True)
    assert 'data-subject="alice"' in matrix and 'data-subject="carol"' not in matrix
    assert 'data-field="store"' in client.get("/console/matrix?store=shopee-sg").get_data(
        as_text=True)  # acme's store, not globex's
    response = client.get("/console/export.csv")
    assert b"acme" not in response.data


def test_unknown_owner_page_target_is_not_found(owner_console):
    assert owner_console.get("/console/subaccounts/nobody").status_code == 404
    assert owner_console.get("/console/stores/nowhere/revoke").status_code == 404


@pytest.mark.parametrize(("console_path", "form", "api", "body", "use_cases"), [
    ("/console/subaccounts/alice/status", {"disabled": "1"},
     ("PUT", "/v1/tenants/acme/subaccounts/alice/status"), {"disabled": False},
     ("subaccount.status",) * 2),
    ("/console/subaccounts/alice/stores", {"stores": ["amazon-us"]},
     ("PUT", "/v1/tenants/acme/subaccounts/alice/stores"),
     {"stores": ["amazon-us", "tmall-flagship"]}, ("subaccount.stores",) * 2),
    ("/console/subaccounts/alice/profile", {"display_name": "Alice", "email": "a@acme.test",
                                            "phone": "", "note": "on leave"},
     ("PATCH", "/v1/tenants/acme/subaccounts/alice"), {"note": "back"},
     ("subaccount.profile",) * 2),
    ("/console/subaccounts/alice/grants", {"role": "finance", "stores": ["amazon-us"]},
     ("POST", "/v1/tenants/acme/grants/revoke"),
     {"subject": "alice", "role": "finance", "stores": ["amazon-us"]},
     ("grant.role", "grant.revoke_role")),
    ("/console/roles", {"role": "greeter", "permissions": ["orders:view"]},
     ("DELETE", "/v1/tenants/acme/roles/greeter"), None, ("role.create", "role.delete")),
])
def test_the_console_and_the_api_make_a_change_through_one_use_case(
        owner_console, owner, console_path, form, api, body, use_cases):
    """Issue 27: the same named use cases, named in the ledger entry, whichever way in."""
    def newest() -> dict:
        return owner("GET", "/v1/tenants/acme/ledger?per_page=1")[1]["entries"][0]

    before = newest()["revision"]
    post(owner_console, console_path, form)
    by_console = newest()
    assert by_console["revision"] == before + 1
    assert by_console["details"]["use_case"] == use_cases[0]
    assert owner(*api, body)[0] == 200
    by_api = newest()
    assert by_api["revision"] == before + 2
    assert by_api["details"]["use_case"] == use_cases[1]


def test_the_approvals_page_shows_amounts_in_their_stores_currency(owner_console, owner):
    """Issue 29: each amount carries its store's currency and each instant a machine time
    the page shows in the viewer's own (console.js); an empty history says so."""
    assert owner("PUT", "/v1/tenants/acme/stores/shopee-sg/currency",
                 {"currency": "SGD"})[0] == 200
    assert owner("PUT", "/v1/tenants/acme/approval-modes/refunds:approve",
                 {"mode": "always"})[0] == 200
    assert owner("PUT", "/v1/tenants/acme/subaccounts/bob/stores",
                 {"stores": ["shopee-sg", "amazon-us"]})[0] == 200
    assert owner("POST", "/v1/tenants/acme/permissions", {
        "subject": "bob", "store": "amazon-us", "permission": "refunds:approve"})[0] == 200
    for store, amount in (("shopee-sg", "12.50"), ("amazon-us", "7.00")):
        status, filed = owner("POST", "/v1/tenants/acme/approvals", {
            "subject": "bob", "store": store, "permission": "refunds:approve",
            "amount": amount})
        assert status == 201, filed
    page = owner_console.get("/console/approvals").get_data(as_text=True)
    assert 'data-amount="12.50" data-currency="SGD">12.50 SGD<' in page
    assert 'data-amount="7.00" data-currency="USD">7.00 USD<' in page
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"', page)
    assert "No request has been decided yet." in page
