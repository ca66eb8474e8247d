"""The admin console in a real browser (issue 9): headless Debian Chromium driven by
Playwright against gunicorn with two workers, on a fresh seeded database.

One story, in order, as an owner and then an auditor would click through it: every step
asserts what the page shows and what /check then answers. Screenshots of the main pages
go to docs/screenshots/ (the README shows them). Any browser console error or page error
on any page fails the test.
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from harness.servers import seeded_sqlite_instance

from ..support import ACME_AUDIT, ACME_CHECK, ACME_OWNER, ADMIN, bearer

pytestmark = pytest.mark.slow

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser")
                 if Path(p).exists()), shutil.which("chromium"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # Decisions are written to the log every 0.2 s, so the auditor sees them promptly.
    instance = seeded_sqlite_instance(tmp_path_factory.mktemp("console"),
                                      AUTHZ_DECISION_LOG_INTERVAL="0.2")
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "Debian's chromium package is needed (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


class Console:
    """One signed-in browser context, collecting every console and page error."""

    def __init__(self, browser, base: str, timezone: str | None = None):
        self.context = browser.new_context(viewport={"width": 1360, "height": 900},
                                           accept_downloads=True, timezone_id=timezone)
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, path: str):
        self.page.goto(self.base + path)
        return self.page

    def sign_in(self, token: str) -> None:
        page = self.open("/console/")
        assert "/console/login" in page.url
        page.fill("input[name=token]", token)
        page.click("#login-form button[type=submit]")

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def field_error(self, form: str, field: str) -> str:
        return self.page.inner_text(f"{form} .field-error[data-field={field}]")


def check(server, subject: str, store: str, permission: str) -> bool:
    area, action = permission.split(":")
    response = requests.post(server.url + "/check", headers=bearer(ACME_CHECK), timeout=5,
                             json={"subject": subject, "store": store, "object": area,
                                   "action": action})
    assert response.status_code == 200, response.text
    return response.json()["allowed"]


def api(server, method: str, path: str, **kwargs):
    response = requests.request(method, server.url + path, headers=bearer(ACME_OWNER),
                                timeout=5, **kwargs)
    assert response.ok, response.text
    return response.json()


def test_owner_and_auditor_work_through_the_console(server, browser):
    owner = Console(browser, server.url)
    page = owner.page

    # -- sign in: a wrong key is refused next to the field --------------------------------
    owner.open("/console/")
    owner.shot("login")
    page.fill("input[name=token]", "acme-owner.not-the-right-secret-at-all")
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state()  # (is_visible does not wait for the answer's page)
    assert page.locator("#login-form .field-error[data-field=token]").is_visible()
    owner.sign_in(ACME_OWNER)
    assert page.url.endswith("/console/subaccounts")
    count = len(api(server, "GET", "/v1/tenants/acme/subaccounts")["items"])
    assert page.inner_text("#cap") == f"{count} of 99 sub-accounts used"
    owner.shot("subaccounts")

    # -- search and filters ---------------------------------------------------------------
    page.fill("input[name=q]", "alice")
    page.click("#filters button[type=submit]")
    assert page.locator("#subaccount-list tbody tr").count() == 1
    page.select_option("select[name=status]", "disabled")
    page.fill("input[name=q]", "")
    page.click("#filters button[type=submit]")
    disabled = [a["login"] for a in api(server, "GET", "/v1/tenants/acme/subaccounts?"
                                                        "status=disabled")["items"]]
    assert page.locator("#subaccount-list tbody tr").count() == len(disabled) or (
        not disabled and page.locator(".empty").is_visible())

    # -- create a sub-account: errors next to the fields, nothing created ------------------
    owner.open("/console/subaccounts/new")
    page.fill("input[name=login]", "dora")
    page.fill("input[name=display_name]", "Dora Chen")
    page.fill("input[name=email]", "not-an-email")
    page.click("#create")
    assert "email" in owner.field_error("#new-subaccount-form", "email").lower()
    assert owner.field_error("#new-subaccount-form", "stores")
    assert page.input_value("input[name=login]") == "dora"  # what was typed is kept
    assert requests.get(server.url + "/v1/tenants/acme/subaccounts/dora",
                        headers=bearer(ACME_OWNER), timeout=5).status_code == 404
    page.fill("input[name=email]", "dora@example.com")
    page.check("#stores input[value=amazon-us]")
    page.check("#roles input[value=customer-service]")
    page.fill("input[name=reason]", "new hire, customer care")
    page.click("#create")
    assert page.url.endswith("/console/subaccounts/dora")
    assert "dora" in page.inner_text(".flash")
    assert page.locator("#grant-list li[data-role=customer-service]").is_visible()
    assert check(server, "dora", "amazon-us", "orders:view")
    assert not check(server, "dora", "tmall-flagship", "orders:view")

    # -- assign another store, then a role there ------------------------------------------
    page.check("#stores-form input[value=tmall-flagship]")
    page.click("#stores-form button[type=submit]")
    page.select_option("#grant-form select[name=role]", "warehouse")
    page.click("#grant")  # no store ticked: the error is next to the stores
    assert owner.field_error("#grant-form", "stores")
    page.select_option("#grant-form select[name=role]", "warehouse")
    page.check("#grant-form input[name=stores][value=tmall-flagship]")
    page.click("#grant")
    assert page.locator("#grant-list li[data-role=warehouse]").is_visible()
    assert check(server, "dora", "tmall-flagship", "orders:ship")
    assert not check(server, "dora", "amazon-us", "orders:ship")
    owner.shot("subaccount")

    # -- batch assignment: preview changes nothing, apply changes all ----------------------
    owner.open("/console/batch")
    page.check("input[name=mode][value=add]")
    page.check("#subjects input[value=dora]")
    page.check("#subjects input[value=alice]")
    page.check("#batch-stores input[value=shopee-sg]")
    page.click("#preview")
    preview = page.locator("#batch-preview")
    assert "shopee-sg" in preview.locator("tr[data-login=dora]").inner_text()
    owner.shot("batch-preview")
    assert "shopee-sg" not in api(server, "GET", "/v1/tenants/acme/subaccounts/dora")["stores"]
    page.click("#apply-batch")
    assert "2" in page.inner_text(".flash")
    assert "shopee-sg" in api(server, "GET", "/v1/tenants/acme/subaccounts/dora")["stores"]

    # -- revoke a store: the cascade first, then the change --------------------------------
    owner.open("/console/stores")
    page.click("tr[data-store=shopee-sg] a.danger")
    cascade = page.inner_text("#cascade")
    assert "user:acme:dora, acme/shopee-sg" in cascade
    owner.shot("revoke-preview")
    assert "shopee-sg" in api(server, "GET", "/v1/tenants/acme/policy")["stores"]
    page.click("#confirm-revoke")
    assert "shopee-sg" in page.inner_text(".flash")
    assert page.locator("tr[data-store=shopee-sg]").count() == 0
    assert "shopee-sg" not in api(server, "GET", "/v1/tenants/acme/policy")["stores"]

    # -- the other owner pages ------------------------------------------------------------
    owner.open("/console/roles")
    assert page.locator(".area[data-area=finance] .high-risk").count() >= 1
    owner.shot("roles")
    owner.open("/console/departments")
    owner.shot("departments")

    # -- an app (R21): install it, grant one of its permissions, uninstall with the cascade --
    registered = requests.post(server.url + "/v1/apps", headers=bearer(ADMIN), timeout=5,
                               json={"app": "quantum", "name": {"en": "Quantum Analytics",
                                                                "zh-CN": "量子分析"}})
    assert registered.status_code == 201, registered.text
    published = requests.put(
        server.url + "/v1/apps/quantum/catalogue", timeout=5,
        headers=bearer(registered.json()["token"]), json={"permissions": [
            {"name": "traffic:view", "description": {"en": "See traffic", "zh-CN": "查看流量"}},
            {"name": "campaigns:edit", "high_risk": True,
             "description": {"en": "Edit campaigns", "zh-CN": "编辑推广"}}]})
    assert published.status_code == 200, published.text
    owner.open("/console/apps")
    assert "Quantum Analytics" in page.inner_text("tr[data-app=quantum]")
    page.click("tr[data-app=quantum] [data-action=install]")
    assert "quantum" in page.inner_text(".flash")
    assert page.locator("tr[data-app=quantum] [data-action=uninstall]").is_visible()
    owner.shot("apps")
    owner.open("/console/roles")
    page.click("#role-operator summary")
    assert page.locator("#role-operator .area[data-app=quantum]").count() == 2
    page.check("#role-operator input[name=permissions][value='quantum.traffic:view']")
    page.click("#role-operator form >> nth=0 >> button[type=submit]")
    assert check(server, "dave", "amazon-us", "quantum.traffic:view")
    assert not check(server, "dave", "amazon-us", "quantum.campaigns:edit")
    owner.open("/console/apps")
    page.click("tr[data-app=quantum] [data-action=uninstall]")
    assert "p, role:acme:operator, acme, quantum.traffic, view, allow" in page.inner_text(
        "#cascade")
    owner.shot("app-uninstall-preview")
    assert check(server, "dave", "amazon-us", "quantum.traffic:view")  # nothing changed yet
    page.click("#confirm-uninstall")
    assert "quantum" in page.inner_text(".flash")
    assert page.locator("tr[data-app=quantum] [data-action=install]").is_visible()
    assert not check(server, "dave", "amazon-us", "quantum.traffic:view")

    # -- an approval (R24): over dora's limit, the owner approves it in the queue -----------
    roles = api(server, "GET", "/v1/tenants/acme/roles")["roles"]
    held = next(r["permissions"] for r in roles if r["role"] == "customer-service")
    for method, path, body in (
            ("PUT", "/v1/tenants/acme/roles/customer-service",
             {"permissions": held + ["refunds:approve"],
              "limits": {"refunds:approve": "200.00"}}),
            ("PUT", "/v1/tenants/acme/approval-modes/refunds:approve", {"mode": "over_limit"})):
        api(server, method, path, json=body)
    refund = {"subject": "dora", "store": "amazon-us", "object": "refunds",
              "action": "approve", "context": {"amount": "320.00"}}
    over = requests.post(server.url + "/check", json=refund, headers=bearer(ACME_CHECK),
                         timeout=5).json()
    assert (over["reason"], over["requires"]) == ("limit_exceeded", "approval"), over
    filed = requests.post(server.url + "/v1/tenants/acme/approvals", headers=bearer(ACME_CHECK),
                          timeout=5, json={"subject": "dora", "store": "amazon-us",
                                           "permission": "refunds:approve",
                                           "amount": "320.00", "note": "order 2002"})
    assert filed.status_code == 201, filed.text
    approval = filed.json()["id"]
    owner.open("/console/approvals")
    row = f"#approval-queue tr[data-approval='{approval}']"
    assert "$320.00" in page.inner_text(row) and "order 2002" in page.inner_text(row)
    assert "(in " in page.inner_text(f"{row} time")  # its deadline, from now (issue 29)
    assert page.inner_text("#approval-history") .strip().endswith(
        "No request has been decided yet.")  # an empty list says so
    owner.shot("approvals")
    page.fill(f"{row} input[name=note]", "receipt checked")
    page.click(f"{row} [data-action=approve]")
    # the click waits for the next page to begin, not for console.js (deferred, run at
    # DOMContentLoaded) to write amounts and times in the viewer's terms
    page.wait_for_load_state()
    assert approval in page.inner_text(".flash")
    assert "$320.00" in page.inner_text(f"#approval-history tr[data-approval='{approval}']")
    with_it = {**refund, "context": {"amount": "320.00", "approval": approval}}
    used = requests.post(server.url + "/check", json=with_it, headers=bearer(ACME_CHECK),
                         timeout=5).json()
    assert used["allowed"] is True, used
    again = requests.post(server.url + "/check", json=with_it, headers=bearer(ACME_CHECK),
                          timeout=5).json()
    assert again["reason"] == "approval_used", again

    # -- the matrix: why on click, and it changes when the owner disables dora --------------
    owner.open("/console/matrix?store=amazon-us")
    cell = page.locator("tr[data-subject=dora] td[data-permission='orders:view']")
    assert cell.get_attribute("class") == "yes"
    assert "customer-service" in cell.get_attribute("title")
    cell.locator("a").click()
    assert "customer-service" in page.inner_text("#why")
    assert "p, role:acme:customer-service, acme, orders, view, allow" in page.inner_text("#why")
    owner.shot("matrix")
    owner.open("/console/subaccounts/dora")
    page.click("#disable")
    assert page.inner_text("#status") == "disabled"
    assert not check(server, "dora", "amazon-us", "orders:view")
    owner.open("/console/matrix?store=amazon-us")
    assert page.locator("tr[data-subject=dora] td.yes").count() == 0

    # -- the ledger: every change above, by the owner key, chain intact --------------------
    owner.open("/console/ledger?subject=dora")
    assert page.get_attribute("#chain-status", "data-ok") == "true"
    rows = page.locator("#ledger tbody tr")
    assert rows.count() >= 6  # create, stores, grant, batch, revoke, disable
    assert "owner:acme-owner" in rows.first.inner_text()
    assert "new hire, customer care" in page.inner_text("#ledger")
    owner.shot("ledger")

    # -- the tenant's language: Simplified Chinese --------------------------------------------
    owner.open("/console/subaccounts")
    with page.expect_navigation():
        page.select_option("header select[name=lang]", "zh-CN")  # submits itself (console.js)
    assert page.url.endswith("/console/subaccounts")
    assert "子账号" in page.inner_text("header nav")
    assert page.inner_text("#cap").startswith("已使用")
    owner.shot("subaccounts-zh-CN")
    owner.open("/console/approvals")  # amounts, times and empty lists in Chinese too
    decided = page.inner_text(f"#approval-history tr[data-approval='{approval}']")
    assert "US$320.00" in decided and "前)" in decided, decided  # "(N分钟前)": ago
    assert page.inner_text("#approval-queue") .strip().endswith("没有待审批的申请。")
    owner.shot("approvals-zh-CN")
    far = Console(browser, server.url, timezone="Asia/Shanghai")  # a viewer eight hours ahead
    far.sign_in(ACME_OWNER)
    far.open("/console/approvals")
    time_ = far.page.locator(f"#approval-history tr[data-approval='{approval}'] time")
    decided_at = datetime.fromisoformat(time_.get_attribute("datetime").replace("Z", "+00:00"))
    local = decided_at.astimezone(ZoneInfo("Asia/Shanghai"))
    shown = time_.inner_text()  # in the viewer's language: "3:08 AM" or "03:08"
    assert f"{local:%H:%M}" in shown or f"{local:%-I:%M} {local:%p}" in shown, (local, shown)
    assert far.errors == []
    far.context.close()
    owner.open("/console/roles")
    assert "财务" in page.text_content("#role-new .area[data-area=finance] legend")
    assert "高风险" in page.text_content("#role-new .area[data-area=finance]")

    # -- the auditor: read-only key, reads everything, changes nothing ---------------------
    for _ in range(3):
        assert not check(server, "dora", "amazon-us", "orders:view")  # logged denies
    auditor = Console(browser, server.url)
    auditor.sign_in(ACME_AUDIT)
    apage = auditor.page
    assert apage.url.endswith("/console/matrix")
    assert "Sub-accounts" not in apage.inner_text("header nav")
    response = apage.goto(server.url + "/console/subaccounts")
    assert response.status == 403 and "owner key" in apage.inner_text("main")
    auditor.errors.clear()  # that 403 was asked for; any other error still fails the test
    auditor.open("/console/matrix?store=amazon-us")
    assert apage.locator("tr[data-subject=dora]").count() == 1
    deadline = time.monotonic() + 10
    while True:  # the decision log is written by each worker a moment after deciding
        auditor.open("/console/decisions?subject=dora&allowed=false")
        if apage.locator("#decisions tbody tr").count() or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert "dora is disabled" in apage.inner_text("#decisions")
    auditor.shot("decisions")
    auditor.open("/console/files")
    with apage.expect_download() as download:
        apage.click("#export")
    exported = Path(download.value.path()).read_text()
    assert "g, user:acme:dora, acme/amazon-us" in exported
    assert "p, user:acme:dora, acme, *, *, deny" in exported  # disabled (R12)
    head = api(server, "GET", "/v1/tenants/acme/settings")["revision"]
    auditor.open(f"/console/files?from=1&to={head}")  # acme after its seed (revision 1)
    diff = apage.inner_text("#diff")
    assert "+ g, user:acme:dora, acme/amazon-us" in diff
    assert "− g, user:acme:alice, acme/shopee-sg" in diff or "shopee-sg" in diff
    auditor.shot("diff")

    assert owner.errors == [] and auditor.errors == [], owner.errors + auditor.errors
    owner.context.close()
    auditor.context.close()
