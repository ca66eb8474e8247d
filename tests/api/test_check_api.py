"""The /check contract as a storefront service sees it."""

from __future__ import annotations

import pytest

from service.domain.decider import Decider

from ..support import ACME_OWNER, GLOBEX_CHECK, Caller, bearer

ALICE_VIEW = {"subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"}


def test_allowed_and_denied_with_revision(checker):
    status, body = checker("POST", "/check", ALICE_VIEW)
    assert status == 200 and body["allowed"] is True and body["revision"] >= 1
    # alice is not assigned shopee-sg (R14): the department's tenant-wide role does not reach it
    assert checker.check("alice", "shopee-sg", "orders", "view") is False


@pytest.mark.parametrize("headers", [{}, bearer("acme-check.wrong-secret-0000000000"),
                                     {"Authorization": "Basic eDp5"}, bearer("garbage")])
def test_missing_or_wrong_token_is_401(client, headers):
    response = client.post("/check", json=ALICE_VIEW, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["code"] == 401


@pytest.mark.parametrize("field,value", [("subject", "al,ice"), ("store", "a/b"),
                                         ("object", "*"), ("action", ""), ("subject", 7),
                                         ("store", None), ("object", "x" * 65)])
def test_bad_field_is_422_naming_it(checker, field, value):
    status, body = checker("POST", "/check", {**ALICE_VIEW, field: value})
    assert status == 422
    assert field in body["errors"]["json"]


def test_missing_and_unknown_fields_are_named(checker):
    status, body = checker("POST", "/check", {"subject": "alice", "colour": "red"})
    assert status == 422
    assert {"store", "object", "action", "colour"} <= set(body["errors"]["json"])


def test_invalid_json_is_400(client, checker):
    response = client.post("/check", data="{nope", headers=checker.headers,
                           content_type="application/json")
    assert response.status_code == 400


def test_internal_error_while_deciding_is_a_deny(app, checker, monkeypatch):
    def boom(self, *request):
        raise RuntimeError("index corrupted")

    monkeypatch.setattr(Decider, "answer_many", boom)  # (every decision's way in)
    status, body = checker("POST", "/check", ALICE_VIEW)
    assert status == 200 and body["allowed"] is False
    status, body = checker("POST", "/check/batch", {"checks": [ALICE_VIEW] * 3})
    assert status == 200 and [r["allowed"] for r in body["results"]] == [False] * 3


def test_a_part_down_while_deciding_is_a_documented_reason(app, checker, monkeypatch):
    """Whatever was unavailable (the tenant, the database under an approval's use), the
    deny carries a code from the documented list, which typed clients check answers
    against: an undocumented one would read as a broken answer, not as this deny."""
    from service.domain import reasons as W
    from service.domain.errors import Unavailable

    def down(self, *request, **named):
        raise Unavailable("the policy database is unavailable; nothing was changed")

    monkeypatch.setattr(Decider, "answer_many", down)
    for path in ("/check", "/v1/tenants/acme/check"):
        status, body = checker("POST", path, ALICE_VIEW)
        assert status == 200 and body["allowed"] is False
        assert body["reason"] == W.TENANT_UNAVAILABLE and body["reason"] in W.CODES
    status, body = checker("POST", "/check/batch", {"checks": [ALICE_VIEW] * 2})
    assert [r["reason"] for r in body["results"]] == [W.TENANT_UNAVAILABLE] * 2
    status, body = checker("POST", "/access/v1/evaluation", {
        "subject": {"type": "user", "id": "alice"}, "action": {"name": "orders:view"},
        "resource": {"type": "store", "id": "amazon-us"}})
    assert status == 200 and body["decision"] is False
    assert body["context"]["reason"] == W.TENANT_UNAVAILABLE


def test_index_failure_is_a_deny(app, checker, monkeypatch):
    from service.domain.index import TenantIndex

    monkeypatch.setattr(TenantIndex, "answer", lambda *a: 1 / 0)
    assert checker.check("alice", "amazon-us", "orders", "view") is False
    status, body = checker("POST", "/check/batch", {"checks": [ALICE_VIEW] * 3})
    assert status == 200 and [r["allowed"] for r in body["results"]] == [False] * 3


def test_batch_answers_in_order(checker):
    checks = [ALICE_VIEW, {**ALICE_VIEW, "store": "shopee-sg"},
              {**ALICE_VIEW, "subject": "owner", "object": "finance", "action": "withdraw"}]
    status, body = checker("POST", "/check/batch", {"checks": checks})
    assert status == 200
    assert [r["allowed"] for r in body["results"]] == [True, False, True]
    assert body["revision"] >= 1


def test_batch_limits_and_item_errors(checker):
    status, body = checker("POST", "/check/batch", {"checks": [ALICE_VIEW] * 1001})
    assert status == 422 and "checks" in body["errors"]
    status, body = checker("POST", "/check/batch", {"checks": []})
    assert status == 422
    status, body = checker("POST", "/check/batch",
                           {"checks": [ALICE_VIEW, {**ALICE_VIEW, "store": "x,y"}]})
    assert status == 422 and body["errors"]["json"]["checks"]["1"]["store"]
    status, body = checker("POST", "/check/batch", {"checks": [ALICE_VIEW] * 1000})
    assert status == 200 and len(body["results"]) == 1000


def test_tenant_keys_see_only_their_tenant(client, checker):
    globex = Caller(client, GLOBEX_CHECK)
    # globex has an "alice" too; acme's alice grants nothing at globex and vice versa (R1)
    assert globex.check("alice", "amazon-us", "prices", "change") is True
    assert checker.check("alice", "amazon-us", "prices", "change") is False
    status, body = checker("POST", "/check", {**ALICE_VIEW, "tenant": "globex"})
    assert status == 403


def test_admin_names_the_tenant(admin):
    status, body = admin("POST", "/check", ALICE_VIEW)
    assert status == 422 and "tenant" in body["errors"]
    assert admin.check("alice", "amazon-us", "orders", "view", tenant="acme") is True


def test_owner_key_can_check_its_tenant(client):
    owner = Caller(client, ACME_OWNER)
    assert owner.check("owner", "tmall-flagship", "settings", "edit") is True
    assert owner.check("owner", "ebay-de", "settings", "edit") is False  # globex's store


def test_context_accepts_only_known_flags(checker):
    assert checker.check("alice", "amazon-us", "orders", "view",
                         context={"second_factor": True}) is True
    status, body = checker("POST", "/check", {**ALICE_VIEW, "context": {"mfa": True}})
    assert status == 422 and "context" in body["errors"]["json"]


def test_the_tenant_path_routes_answer_as_check_does(client):
    """POST /v1/tenants/{t}/check[/batch]: same bodies, same answers, on the fast path; the
    key must be that tenant's (or the admin's), and a body may not name another tenant."""
    from ..support import ACME_CHECK, ADMIN, GLOBEX_CHECK, GLOBEX_OWNER, bearer

    cases = [{"subject": s, "store": st, "object": o, "action": a}
             for s, st, o, a in (("alice", "amazon-us", "orders", "view"),
                                 ("alice", "shopee-sg", "orders", "view"),
                                 ("bob", "shopee-sg", "refunds", "approve"),
                                 ("owner", "amazon-us", "billing", "purchase"))]
    for body in cases:
        plain = client.post("/check", json=body, headers=bearer(ACME_CHECK))
        routed = client.post("/v1/tenants/acme/check", json=body, headers=bearer(ACME_CHECK))
        assert routed.status_code == 200 and routed.data == plain.data
        assert routed.headers["X-Policy-Revision"] == plain.headers["X-Policy-Revision"]
        admin = client.post("/v1/tenants/acme/check", json=body, headers=bearer(ADMIN))
        assert admin.get_json()["allowed"] == plain.get_json()["allowed"]
    batch = {"checks": cases}
    plain = client.post("/check/batch", json=batch, headers=bearer(ACME_CHECK))
    routed = client.post("/v1/tenants/acme/check/batch", json=batch,
                         headers=bearer(ACME_CHECK))
    assert routed.status_code == 200 and routed.data == plain.data
    for token in (GLOBEX_CHECK, GLOBEX_OWNER):  # another tenant's keys
        for path, body in (("/v1/tenants/acme/check", cases[0]),
                           ("/v1/tenants/acme/check/batch", batch)):
            assert client.post(path, json=body, headers=bearer(token)).status_code == 403
    other = client.post("/v1/tenants/acme/check", json={**cases[0], "tenant": "globex"},
                        headers=bearer(ADMIN))
    assert other.status_code == 422 and "tenant" in other.get_json()["errors"]["json"]
    same = client.post("/v1/tenants/acme/check", json={**cases[0], "tenant": "acme"},
                       headers=bearer(ACME_CHECK))
    assert same.get_json()["allowed"] is True
    bad = client.post("/v1/tenants/ACME!/check", json=cases[0], headers=bearer(ACME_CHECK))
    assert bad.status_code in (403, 404)


def test_sqlite_readers_never_wait_for_a_writer(tmp_path):
    """The embedded default's file is in write-ahead-log mode (init-db): a worker loading
    a tenant reads while another process holds the file's write lock mid-transaction
    (with a rollback journal it would wait for the lock, up to 15 s, then fail)."""
    import sqlite3
    import time

    from ..support import ACME_CHECK, bearer, fresh_database, make_app

    path = tmp_path / "a.db"
    fresh_database(make_app(f"sqlite:///{path}"))
    writer = sqlite3.connect(path, isolation_level=None)
    assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    writer.execute("BEGIN EXCLUSIVE")
    writer.execute("UPDATE tenant_head SET revision = revision WHERE tenant = 'acme'")
    try:
        client = make_app(f"sqlite:///{path}").test_client()  # holds nothing yet
        started = time.monotonic()
        answer = client.post("/check", headers=bearer(ACME_CHECK), json={
            "subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"})
        assert answer.status_code == 200 and answer.get_json()["allowed"] is True
        assert time.monotonic() - started < 5
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_sqlite_checks_read_no_table_while_nothing_was_committed(tmp_path, monkeypatch):
    """With the default settings SQLite asks data_version before a check; the policy head
    is read only after a commit, not on every /check (the poll is once a second)."""
    from service.storage import policy_store

    from ..support import ACME_CHECK, ACME_OWNER, bearer, fresh_database, make_app

    app = make_app(f"sqlite:///{tmp_path / 'a.db'}", AUTHZ_SYNC_INTERVAL=None)
    fresh_database(app)
    client = app.test_client()
    body = {"subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"}
    assert client.post("/check", json=body, headers=bearer(ACME_CHECK)).status_code == 200
    reads = []
    real = policy_store.head
    monkeypatch.setattr(policy_store, "head", lambda: reads.append(1) or real())
    for _ in range(50):
        assert client.post("/check", json=body, headers=bearer(ACME_CHECK)).get_json()[
            "allowed"] is True
    assert reads == []
    assert client.put("/v1/tenants/acme/subaccounts/alice/status", json={"disabled": True},
                      headers=bearer(ACME_OWNER)).status_code == 200
    assert client.post("/check", json=body, headers=bearer(ACME_CHECK)).get_json()[
        "allowed"] is False
