"""Defects found by trying to break the service from the README alone (issue 16), each
pinned by the behaviour a caller saw: on SQLite and PostgreSQL where storage matters."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from service.domain import policy_files as PF

from ..support import ADMIN, GLOBEX_OWNER, Caller, bearer

pytestmark = pytest.mark.storage  # run on both databases (tests/conftest.py)


def _export(owner) -> str:
    return owner.client.get("/v1/tenants/acme/export.csv", headers=owner.headers).data.decode()


def _import(owner, text: str, dry_run: bool):
    return owner("POST", "/v1/tenants/{t}/import", {"csv": text, "dry_run": dry_run})


def test_a_revision_beyond_the_database_head_is_refused_at_once(app, checker, monkeypatch):
    def waited(seconds):
        raise AssertionError("the worker waited for a revision nobody has written")

    monkeypatch.setattr("service.runtime.replica._pause", waited)
    service = app.extensions["authz"]
    service.settings = replace(service.settings, consistency_wait=30.0)
    status, body = checker("POST", "/check", {"subject": "alice", "store": "amazon-us",
                                              "object": "orders", "action": "view",
                                              "at_least_revision": 10**9})
    assert status == 409 and "at_least_revision" in body["errors"], body
    assert "does not exist" in body["message"]


@pytest.mark.parametrize("path", [
    "/v1/tenants/{t}/ledger?subjet=alice",
    "/v1/tenants/{t}/decisions?alowed=false",
    "/v1/tenants/{t}/who-can?store=amazon-us&permission=orders:view&foo=1",
    "/v1/tenants/{t}/policy?verbose=1",
    "/v1/tenants/{t}/export.csv?x=1",
])
def test_unknown_query_parameters_are_refused(owner, path):
    status, body = owner("GET", path)
    assert status == 422, body
    name = path.rsplit("&", 1)[-1].split("?")[-1].split("=")[0]
    assert name in str(body["errors"])


def test_a_nul_in_free_text_is_refused_and_changes_nothing(owner):
    before = owner("GET", "/v1/tenants/{t}/subaccounts/alice")[1]
    status, body = owner("PATCH", "/v1/tenants/{t}/subaccounts/alice", {"note": "a\x00b"})
    assert status == 422 and "note" in body["errors"]["json"], body
    status, body = owner("POST", "/v1/tenants/{t}/stores", {"store": "s1", "reason": "\x00"})
    assert status == 422 and "reason" in body["errors"]["json"], body
    status, body = owner("GET", "/v1/tenants/{t}/ledger?actor=a%00b")
    assert status == 422, body
    assert owner("GET", "/v1/tenants/{t}/subaccounts/alice")[1] == before


def test_an_expiry_that_overflows_is_a_422(owner):
    status, body = owner("POST", "/v1/tenants/{t}/grants", {
        "subject": "alice", "role": "finance", "stores": ["amazon-us"],
        "expires_at": "9999-12-31T23:59:59-14:00"})
    assert status == 422 and "expires_at" in body["errors"]["json"], body


def test_email_and_phone_belong_to_one_account_in_every_tenant(client, owner):
    """R4: 409 naming the field, in the same tenant or another, any case."""
    globex = Caller(client, GLOBEX_OWNER, "globex")
    assert owner("PATCH", "/v1/tenants/{t}/subaccounts/alice",
                 {"email": "Alice@Acme.test", "phone": "+1 555 0100"})[0] == 200
    new = {"display_name": "x", "stores": ["amazon-us"]}
    for caller, body in ((owner, {"login": "al2", "email": "alice@acme.test"}),
                         (owner, {"login": "al3", "email": "x@acme.test",
                                  "phone": "+1 555 0100"}),
                         (globex, {"login": "al4", "email": "ALICE@acme.test"})):
        status, answer = caller("POST", "/v1/tenants/{t}/subaccounts", {**new, **body})
        field = "phone" if "phone" in body else "email"
        assert status == 409 and field in answer["errors"], answer
    status, answer = owner("PATCH", "/v1/tenants/{t}/subaccounts/bob", {"email": "ALICE@acme.test"})
    assert status == 409 and "email" in answer["errors"]
    # saving one's own again is no conflict; the other accounts were not made
    assert owner("PATCH", "/v1/tenants/{t}/subaccounts/alice",
                 {"email": "alice@acme.test"})[0] == 200
    assert owner("GET", "/v1/tenants/{t}/subaccounts/al2")[0] == 404


def test_an_import_cannot_get_around_the_cap(client):
    admin = Caller(client, ADMIN)
    globex = Caller(client, GLOBEX_OWNER, "globex")
    assert admin("PATCH", "/v1/tenants/globex/settings", {"max_sub_accounts": 3})[0] == 200
    before = client.get("/v1/tenants/globex/export.csv",
                        headers=bearer(GLOBEX_OWNER)).data.decode()
    lines = "".join(f"g, user:globex:u{i}, globex/amazon-us\n" for i in range(150))
    status, body = globex("POST", "/v1/tenants/{t}/import",
                          {"csv": before + lines, "dry_run": False})
    assert status == 409 and body["code"] == 409, body
    after = client.get("/v1/tenants/globex/export.csv", headers=bearer(GLOBEX_OWNER))
    assert after.data.decode() == before
    status, page = globex("GET", "/v1/tenants/{t}/subaccounts")
    assert status == 200 and page["total"] <= 3


@pytest.mark.parametrize("change, code", [
    # a store that is not declared: the disabled deny would not reach it
    (lambda t: t + "g, user:acme:ivan, acme/ghost\n"
                   "p, user:acme:ivan, acme/ghost, refunds, approve, allow\n",
     "store-undeclared"),
    # the owner's product rights in a store run by product (R3)
    (lambda t: t.replace("g, user:acme:owner, acme/tmall-flagship~products\n", ""),
     "by-product-partial"),
    # a grant of a role nobody defined
    (lambda t: t + "g, user:acme:alice, role:acme:phantom@acme\n", "role-undefined"),
    # a store called like the API's "every store"
    (lambda t: t + "g2, acme/all, acme\ng, user:acme:owner, acme/all\n", "store-reserved"),
    # a supplementary grant in every store (the API asks for one store)
    (lambda t: t + "p, user:acme:alice, acme, reports, export, allow\n", "grant-every-store"),
])
def test_imports_reach_no_state_the_api_refuses(owner, change, code):
    text = _export(owner)
    if "tmall-flagship~products" not in text:  # make the store run by product first
        assert owner("PUT", "/v1/tenants/{t}/stores/tmall-flagship/mode",
                     {"mode": "by-product"})[0] == 200
        text = _export(owner)
    bad = change(text)
    assert bad != text
    assert code in {f.code for f in PF.lint(bad, "acme") if f.severity == "error"}
    for dry_run in (True, False):
        status, body = _import(owner, bad, dry_run)
        assert status == 422, body
    assert _export(owner) == text


def test_ready_says_so_when_the_sqlite_file_is_deleted(tmp_path):
    from ..support import fresh_database, make_app

    app = make_app(f"sqlite:///{tmp_path / 'authz.db'}")
    fresh_database(app)
    client = app.test_client()
    assert client.get("/ready").status_code == 200
    (tmp_path / "authz.db").unlink()
    answer = client.get("/ready")
    assert answer.status_code == 503
    assert answer.get_json()["database"] == "missing"
    assert "does not exist" in answer.get_json()["problem"]
    # a worker started now neither creates an empty database nor says it is ready
    fresh = make_app(f"sqlite:///{tmp_path / 'authz.db'}").test_client()
    assert fresh.get("/ready").status_code == 503
    assert not (tmp_path / "authz.db").exists()


def test_an_import_past_the_cap_is_refused_quickly_in_a_dry_run_too(owner):
    """8,000 sub-accounts in 500 stores kept a worker busy until it was killed: the dry run
    is now held to the same invariants (R11 cap) before any plan is worked out."""
    text = _export(owner)
    stores = "".join(f"g2, acme/x{s}, acme\ng, user:acme:owner, acme/x{s}\n" for s in range(500))
    users = "".join(f"g, user:acme:u{i}, acme/x{i % 500}\n" for i in range(8000))
    for dry_run in (True, False):
        status, body = _import(owner, text + stores + users, dry_run)
        assert status == 409 and "max_sub_accounts" in body["errors"], body
    assert _export(owner) == text


def test_a_plan_stops_at_its_budget_and_says_so(client, owner):
    admin = Caller(client, ADMIN)
    assert admin("PATCH", "/v1/tenants/acme/settings", {"max_sub_accounts": 2000})[0] == 200
    text = _export(owner)
    users = "".join(f"g, user:acme:u{i}, acme/amazon-us\n"
                    f"p, user:acme:u{i}, acme/amazon-us, orders, view, allow\n"
                    for i in range(1600))
    status, body = _import(owner, text + users, True)
    assert status == 200, body
    changes = body["decision_changes"]
    assert changes["complete"] is False and changes["total"] > 0
    small = _import(owner, text + "g, user:acme:u1, acme/amazon-us\n", True)[1]
    assert small["decision_changes"]["complete"] is True


def test_previews_and_dry_runs_count_against_the_write_limit(database_url):
    from ..support import ACME_OWNER, fresh_database, make_app

    app = make_app(database_url, AUTHZ_WRITE_RATE_LIMIT="3/minute")
    fresh_database(app)
    owner = Caller(app.test_client(), ACME_OWNER, "acme")
    text = _export(owner)
    answers = [_import(owner, text, True)[0] for _ in range(3)]
    answers.append(owner("DELETE", "/v1/tenants/{t}/stores/amazon-us?dry_run=true")[0])
    assert answers == [200, 200, 200, 429]


def test_the_decision_log_page_reads_the_ledger_once(app, owner, checker, monkeypatch):
    from service.storage import policy_store

    for i in range(30):  # 30 revisions, a logged deny at each
        assert owner("POST", "/v1/tenants/{t}/stores", {"store": f"d{i}"})[0] == 201
        checker.check("alice", f"d{i}", "orders", "view")
    app.extensions["authz"].decision_log.flush()
    reads = []
    real = policy_store.tenant_changes
    monkeypatch.setattr(policy_store, "tenant_changes",
                        lambda *a, **k: reads.append(a) or real(*a, **k))
    status, page = owner("GET", "/v1/tenants/{t}/decisions?per_page=100")
    assert status == 200 and page["total"] >= 30
    assert len({e["revision"] for e in page["entries"]}) >= 30
    assert all(e["consistent"] for e in page["entries"])
    assert len(reads) == 1


def test_export_json_restores_a_tenant_whole_and_its_csv_is_the_csv_export(client, owner):
    """Profiles, department names, language and expiries come back; the CSV part is
    export.csv byte for byte (what stock pycasbin loads)."""
    admin = Caller(client, ADMIN)
    assert owner("PATCH", "/v1/tenants/{t}/subaccounts/alice",
                 {"email": "alice@acme.test", "phone": "+1 555 0100", "note": "lead"})[0] == 200
    assert owner("POST", "/v1/tenants/{t}/departments",
                 {"department": "returns", "name": "Returns desk"})[0] == 201
    assert owner("PATCH", "/v1/tenants/{t}/settings", {"language": "zh-CN"})[0] == 200
    assert owner("POST", "/v1/tenants/{t}/grants", {
        "subject": "alice", "role": "finance", "stores": ["amazon-us"],
        "expires_at": "2999-01-01T00:00:00+00:00"})[0] == 200
    status, document = owner("GET", "/v1/tenants/{t}/export.json")
    assert status == 200 and document["csv"] == _export(owner)
    assert document["directory"]["expiries"] == {
        "g, user:acme:alice, role:acme:finance@acme/amazon-us": "2999-01-01T00:00:00.000000Z"}
    # restore into a new tenant: the same rules under its name
    status, created = admin("POST", "/v1/tenants", {"tenant": "acme2"})
    assert status == 201
    new = Caller(client, created["owner_key"], "acme2")
    text = document["csv"].replace("acme", "acme2")
    directory = json.loads(json.dumps(document["directory"]).replace("acme", "acme2"))
    directory["accounts"]["alice"]["email"] = "alice@acme2.test"  # R4: not the same account
    directory["accounts"]["alice"]["phone"] = "+1 555 0199"
    for key in [k for k in directory["accounts"] if directory["accounts"][k]["email"]
                and k != "alice"]:
        directory["accounts"][key]["email"] = f"{key}@acme2.test"
    status, body = new("POST", "/v1/tenants/{t}/import",
                       {"csv": text, "directory": directory, "dry_run": False})
    assert status == 200, body
    status, again = new("GET", "/v1/tenants/{t}/export.json")
    assert again["csv"] == text and again["directory"] == directory
    # the owner cannot raise its own cap by an import (R11)
    directory["settings"]["max_sub_accounts"] = 5000
    status, body = new("POST", "/v1/tenants/{t}/import",
                       {"csv": text, "directory": directory, "dry_run": True})
    assert status == 403, body
    # an expiry of a rule the file does not hold is refused
    directory["settings"]["max_sub_accounts"] = again["directory"]["settings"][
        "max_sub_accounts"]
    directory["expiries"] = {"g, user:acme2:bob, role:acme2:finance@acme2": "2999-01-01T00:00Z"}
    status, body = new("POST", "/v1/tenants/{t}/import",
                       {"csv": text, "directory": directory, "dry_run": False})
    assert status == 422, body
