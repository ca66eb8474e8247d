"""Issue 26 in process, on both backends (the processes' part: tests/e2e/
test_integrity_processes.py): writes never count an ended grant (1), a catalogue version
never lifts a limit or leaves an owner-only permission granted and is refused whole when
one tenant would refuse it (3-4), a tenant whose change failed stays at its version until
the version is sent again (5), the audit key never spends an approval (7), a batch over
several tenants under a budget answers every tenant that exists (8), a use answers the
revision it was decided at, as the decision log and the ledger say, and stock pycasbin
says "not installed" for the owner too (9)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from service.domain import clock
from service.domain.errors import Unavailable
from service.startup import seeding
from service.storage.models import db
from service.usecases import expiry

from ..support import (
    ACME_AUDIT,
    ACME_OWNER,
    ADMIN,
    GLOBEX_OWNER,
    Caller,
    bearer,
    make_app,
    replay,
)
from .test_approvals import ok, refund, setup_limits
from .test_apps import V1, V2, installed, register

pytestmark = pytest.mark.storage  # run on both databases (tests/conftest.py)


def test_an_approver_whose_grant_ended_cannot_decide(client, owner, checker, monkeypatch):
    setup_limits(owner)
    ok(owner("PUT", "/v1/tenants/acme/approval-modes/refunds:approve", {"mode": "over_limit"}))
    ok(owner("POST", "/v1/tenants/acme/permissions/revoke", {
        "subject": "carol", "store": "amazon-us", "permission": "approvals:decide"}))
    ends = datetime.now(UTC) + timedelta(hours=1)
    ok(owner("POST", "/v1/tenants/acme/permissions", {
        "subject": "carol", "store": "amazon-us", "permission": "approvals:decide",
        "expires_at": ends.isoformat()}))
    request = ok(checker("POST", "/v1/tenants/acme/approvals", {
        "subject": "bob", "store": "amazon-us", "permission": "refunds:approve",
        "amount": "250.00"}))
    later = ends.timestamp() + 60
    monkeypatch.setattr(clock, "now", lambda: later)
    monkeypatch.setattr(expiry, "sweep", lambda now=None: [])  # no sweep tidies it first
    status, body = checker("POST", f"/v1/tenants/acme/approvals/{request['id']}/decision",
                           {"approver": "carol", "approve": True})
    assert status == 403 and "approver" in body["errors"], body


def test_the_audit_key_never_spends_an_approval(app, client, owner, checker):
    setup_limits(owner)
    ok(owner("PUT", "/v1/tenants/acme/approval-modes/refunds:approve", {"mode": "over_limit"}))
    request = ok(checker("POST", "/v1/tenants/acme/approvals", {
        "subject": "bob", "store": "amazon-us", "permission": "refunds:approve",
        "amount": "250.00"}))
    ok(checker("POST", f"/v1/tenants/acme/approvals/{request['id']}/decision",
               {"approver": "carol", "approve": True}))
    body = {"subject": "bob", "store": "amazon-us", "object": "refunds", "action": "approve",
            "context": {"amount": "250.00", "approval": request["id"]}}
    for token in (ACME_AUDIT, ACME_OWNER, ADMIN):
        named = {**body, "tenant": "acme"} if token == ADMIN else body
        status, answer = Caller(client, token)("POST", "/check", named)
        assert status == 403, (token, answer)
    # the storefront's use is still the first: allowed, at the revision it was decided at
    used = refund(checker, "bob", "amazon-us", "250.00", approval=request["id"])
    assert used["allowed"] is True, used
    ledger = ok(owner("GET", "/v1/tenants/acme/ledger?per_page=1"))["entries"][0]
    assert ledger["revision"] == used["revision"] + 1  # the use's own entry
    assert request["id"] in ledger["reason"]
    app.extensions["authz"].decision_log.flush()
    logged = ok(owner("GET", f"/v1/tenants/acme/decisions?approval={request['id']}"))
    assert [e["revision"] for e in logged["entries"]] == [used["revision"]], logged
    assert refund(checker, "bob", "amazon-us", "250.00",
                  approval=request["id"])["reason"] == "approval_used"


def test_a_version_that_would_lift_a_limit_is_refused_whole(client):
    quantum = register(client)
    owner = Caller(client, ACME_OWNER, "acme")
    money = {**V1, "permissions": [*V1["permissions"], {
        "name": "payouts:send", "amount": True,
        "description": {"en": "Send payouts", "zh-CN": "付款"}}]}
    assert quantum("PUT", "/v1/apps/quantum/catalogue", money)[0] == 200
    assert owner("PUT", "/v1/tenants/acme/apps/quantum", {})[0] == 200
    ok(owner("POST", "/v1/tenants/acme/permissions", {
        "subject": "alice", "store": "amazon-us", "permission": "quantum.payouts:send",
        "limit": "50.00"}))
    unmarked = {"permissions": [*V1["permissions"], {
        "name": "payouts:run", "description": {"en": "Run payouts", "zh-CN": "付款"}}],
        "renames": {"payouts:send": "payouts:run"}}
    status, body = quantum("PUT", "/v1/apps/quantum/catalogue", unmarked)
    assert status == 409, body
    refused = body["errors"]["tenants"]["acme"]["errors"]["amount"]
    assert refused == ["p, user:acme:alice, acme/amazon-us, quantum.payouts, "
                       "send<=000000000050.00, allow (quantum.payouts:run carries no amount)"]
    dropped = {**money, "permissions": [*V1["permissions"], {
        "name": "payouts:send", "description": {"en": "Send payouts", "zh-CN": "付款"}}]}
    assert quantum("PUT", "/v1/apps/quantum/catalogue", dropped)[0] == 409
    # nothing was published: the limit holds, and the same version still is the newest
    assert quantum("GET", "/v1/apps/quantum")[1]["version"] == 1
    status, checked = owner("POST", "/check", {
        "subject": "alice", "store": "amazon-us", "object": "quantum.payouts",
        "action": "send", "context": {"amount": "5000.00"}})
    assert (status, checked["reason"]) == (200, "limit_exceeded"), checked


def test_a_version_that_would_leave_an_owner_only_permission_granted_is_refused(client):
    quantum, owner = installed(client)  # dave holds quantum.campaigns:edit in amazon-us
    sensitive = {**V1, "permissions": [V1["permissions"][0],
                                       {**V1["permissions"][1], "owner_only": True},
                                       V1["permissions"][2]]}
    status, body = quantum("PUT", "/v1/apps/quantum/catalogue", sensitive)
    assert status == 409, body
    assert body["errors"]["tenants"]["acme"]["errors"]["owner_only"] == [
        "p, user:acme:dave, acme/amazon-us, quantum.campaigns, edit, allow "
        "(quantum.campaigns:edit is owner-only)"]
    # the owner revokes it first; then the version publishes and applies
    ok(owner("POST", "/v1/tenants/acme/permissions/revoke", {
        "subject": "dave", "store": "amazon-us", "permission": "quantum.campaigns:edit"}))
    status, body = quantum("PUT", "/v1/apps/quantum/catalogue", sensitive)
    assert status == 200 and body["failed"] == {}, body


def test_an_admin_batch_over_tenants_under_a_budget_answers_each_that_exists(
        app, client, database_url):
    worker = make_app(database_url, AUTHZ_TENANT_CACHE_MB=0.01)  # room for about no tenant
    item = {"subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"}
    batch = {"checks": [{**item, "tenant": "acme"}, {**item, "tenant": "globex"},
                        {**item, "tenant": "acme", "object": "products"},
                        {**item, "tenant": "globex", "object": "products"},
                        {**item, "tenant": "nobody"}]}
    answer = worker.test_client().post("/check/batch", headers=bearer(ADMIN), json=batch)
    assert answer.status_code == 200, answer.get_data()
    body = answer.get_json()
    reasons = [r["reason"] for r in body["results"]]
    assert reasons.count("unknown_tenant") == 1 and reasons[-1] == "unknown_tenant", body
    assert body["revisions"]["acme"] >= 1 and body["revisions"]["globex"] >= 1, body
    unbounded = client.post("/check/batch", headers=bearer(ADMIN), json=batch).get_json()
    assert body == unbounded  # the same answers as a worker with no budget


def test_the_export_taken_after_an_end_replays_the_services_answers(client, owner, checker,
                                                                     monkeypatch):
    ends = datetime.now(UTC) + timedelta(hours=1)
    ok(owner("POST", "/v1/tenants/acme/permissions", {
        "subject": "alice", "store": "amazon-us", "permission": "reports:export",
        "expires_at": ends.isoformat()}))
    rule = "p, user:acme:alice, acme/amazon-us, reports, export, allow"
    before = client.get("/v1/tenants/acme/export.csv", headers=bearer(ACME_OWNER)).data.decode()
    asked = ("user:acme:alice", "acme/amazon-us", "reports", "export", "", "", "", "")
    assert rule in before and replay(before).enforce(*asked) is True
    assert checker.check("alice", "amazon-us", "reports", "export") is True
    later = ends.timestamp() + 1
    monkeypatch.setattr(clock, "now", lambda: later)
    monkeypatch.setattr(expiry, "sweep", lambda now=None: [])  # no sweep tidies it first
    after = client.get("/v1/tenants/acme/export.csv", headers=bearer(ACME_OWNER)).data.decode()
    assert rule not in after
    assert replay(after).enforce(*asked) is False
    assert checker.check("alice", "amazon-us", "reports", "export") is False


def test_a_tenant_whose_change_failed_stays_at_its_version_until_published_again(
        app, client, monkeypatch):
    """Finding 5: a tenant is at a version only once that version's change to it
    committed; its rules and its catalogue stay together meanwhile; the owner can revoke
    what it holds; the newest version sent again brings it up."""
    quantum, owner = installed(client)  # acme at v1: dave holds quantum.campaigns:edit
    globex = Caller(client, GLOBEX_OWNER, "globex")
    assert globex("PUT", "/v1/tenants/globex/apps/quantum", {})[0] == 200
    service = app.extensions["authz"]
    write = service.write

    def failing(caller, tenant, *args, **kwargs):
        if tenant == "acme":
            raise Unavailable("the policy database is unavailable; nothing was changed")
        return write(caller, tenant, *args, **kwargs)

    monkeypatch.setattr(service, "write", failing)
    status, body = quantum("PUT", "/v1/apps/quantum/catalogue", V2)
    assert status == 200 and list(body["failed"]) == ["acme"], body
    assert body["tenants"]["globex"]["versions"] == [2], body
    monkeypatch.setattr(service, "write", write)
    names = {p["name"] for p in owner("GET", "/v1/tenants/acme/catalogue")[1]["permissions"]}
    assert "quantum.campaigns:edit" in names and "quantum.campaigns:manage" not in names
    assert owner.check("dave", "amazon-us", "quantum.campaigns", "edit",
                       context={"second_factor": True}) is True
    # the owner can take back what the tenant holds, at the version it is at
    ok(owner("POST", "/v1/tenants/acme/permissions/revoke", {
        "subject": "dave", "store": "amazon-us", "permission": "quantum.campaigns:edit"}))
    ok(owner("POST", "/v1/tenants/acme/permissions", {
        "subject": "dave", "store": "amazon-us", "permission": "quantum.campaigns:edit"}))
    status, body = quantum("PUT", "/v1/apps/quantum/catalogue", V2)  # again
    assert status == 200 and body["republished"] is True and body["failed"] == {}, body
    assert list(body["tenants"]) == ["acme"], body  # globex was already at 2
    assert body["tenants"]["acme"]["renamed_rules"] == {
        "p, user:acme:dave, acme/amazon-us, quantum.campaigns, edit, allow":
            "p, user:acme:dave, acme/amazon-us, quantum.campaigns, manage, allow"}, body
    assert quantum("GET", "/v1/apps/quantum")[1]["version"] == 2  # nothing new published
    names = {p["name"] for p in owner("GET", "/v1/tenants/acme/catalogue")[1]["permissions"]}
    assert "quantum.campaigns:manage" in names and "quantum.campaigns:edit" not in names
    assert owner.check("dave", "amazon-us", "quantum.campaigns", "manage",
                       context={"second_factor": True}) is True
    status, body = quantum("PUT", "/v1/apps/quantum/catalogue", V2)  # nobody behind now
    assert status == 200 and body["tenants"] == {} and body["republished"] is True, body


def test_a_tenant_that_missed_versions_takes_each_ones_renames(app, client, monkeypatch):
    quantum, owner = installed(client)
    service = app.extensions["authz"]
    write = service.write
    monkeypatch.setattr(service, "write", lambda *a, **k: (_ for _ in ()).throw(
        Unavailable("the policy database is unavailable")))
    assert quantum("PUT", "/v1/apps/quantum/catalogue", V2)[1]["failed"] == {
        "acme": "the policy database is unavailable"}
    monkeypatch.setattr(service, "write", write)
    v3 = {"permissions": [V1["permissions"][0], {**V1["permissions"][1], "name": "ads:run"},
                          V1["permissions"][2]], "renames": {"campaigns:manage": "ads:run"}}
    status, body = quantum("PUT", "/v1/apps/quantum/catalogue", v3)
    assert status == 200 and body["tenants"]["acme"]["versions"] == [2, 3], body
    assert body["tenants"]["acme"]["renamed_rules"] == {
        "p, user:acme:dave, acme/amazon-us, quantum.campaigns, edit, allow":
            "p, user:acme:dave, acme/amazon-us, quantum.ads, run, allow"}, body


def test_the_owners_replay_says_an_app_that_is_not_installed_allows_nobody(client):
    """Finding 9: the owner asking about an app's permission where the app is not
    installed is denied by stock pycasbin on the export too, and allowed once it is."""
    quantum, owner = register(client), Caller(client, ACME_OWNER, "acme")
    assert quantum("PUT", "/v1/apps/quantum/catalogue", V1)[0] == 200
    asked = ("user:acme:owner", "acme/amazon-us", "quantum.traffic", "view", "", "", "", "")

    def both() -> tuple[bool, bool]:
        export = client.get("/v1/tenants/acme/export.csv",
                            headers=bearer(ACME_OWNER)).data.decode()
        return (owner.check("owner", "amazon-us", "quantum.traffic", "view"),
                replay(export).enforce(*asked))

    assert both() == (False, False)
    assert owner("PUT", "/v1/tenants/acme/apps/quantum", {})[0] == 200
    assert both() == (True, True)
    # the owner's rule of the app is one the service writes: a file without it is refused
    export = client.get("/v1/tenants/acme/export.csv", headers=bearer(ACME_OWNER)).data.decode()
    without = "".join(line + "\n" for line in export.splitlines()
                      if line != "p, user:acme:owner, acme, quantum.*, *, allow")
    status, body = owner("POST", "/v1/tenants/acme/import", {"csv": without, "dry_run": True})
    assert status == 422 and "app 'quantum'" in str(body), body
    assert owner("DELETE", "/v1/tenants/acme/apps/quantum")[0] == 200
    assert both() == (False, False)
    assert owner.check("owner", "amazon-us", "orders", "view") is True


def test_init_db_gives_the_owner_the_apps_installed_before_its_rule_existed(app, client):
    quantum, owner = installed(client)
    rule = "p, user:acme:owner, acme, quantum.*, *, allow"
    with app.app_context():  # a tenant as stored before: the app's marker, no owner rule
        db.session.execute(text("DELETE FROM policy_rule WHERE tenant = 'acme' AND "
                                "ptype = 'p' AND v2 = 'quantum.*'"))
        db.session.execute(text("DELETE FROM tenant_app"))
        db.session.commit()
        seeding.init_db()
        seeding.init_db()  # (again: nothing more to do)
    export = client.get("/v1/tenants/acme/export.csv", headers=bearer(ACME_OWNER)).data.decode()
    assert rule in export.splitlines()
    entries = owner("GET", "/v1/tenants/acme/ledger?actor=init-db")[1]["entries"]
    assert [e["added"] for e in entries] == [[rule]], entries
    names = {p["name"] for p in owner("GET", "/v1/tenants/acme/catalogue")[1]["permissions"]}
    assert "quantum.campaigns:edit" in names  # no version recorded: the newest
