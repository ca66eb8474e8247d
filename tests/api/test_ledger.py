"""The change ledger (R18): every change with actor, time, request id, reason, before and
after; append-only; a hash chain whose verification names the first tampered entry."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from service.storage import ledger
from service.storage.models import db

from ..support import ADMIN, bearer

pytestmark = pytest.mark.storage  # run on both databases (tests/conftest.py)


def _changes(owner):
    owner.client.post("/v1/tenants/acme/denies", headers={**owner.headers,
                                                          "X-Request-ID": "req-deny-1"},
                      json={"subject": "alice", "store": "amazon-us",
                            "permission": "orders:view", "reason": "fraud review"})
    owner("PATCH", "/v1/tenants/{t}/subaccounts/alice", {"note": "on leave"})
    admin = owner.client.patch("/v1/tenants/acme/settings", json={"max_sub_accounts": 50},
                               headers=bearer(ADMIN))
    assert admin.status_code == 200
    owner("POST", "/v1/tenants/{t}/keys", {"scope": "check"})


def test_entries_say_who_when_why_and_what(owner):
    _changes(owner)
    status, page = owner("GET", "/v1/tenants/{t}/ledger")
    assert status == 200 and page["total"] == 5  # the seed, then four changes
    keys, settings, note, deny = page["entries"][:4]
    assert deny["added"] == ["p, user:acme:alice, acme/amazon-us, orders, view, deny"]
    assert deny["reason"] == "fraud review" and deny["request_id"] == "req-deny-1"
    assert deny["actor"] == "owner:acme-owner" and deny["time"].endswith("+00:00")
    assert note["details"]["accounts"]["alice"]["before"]["note"] == ""
    assert note["details"]["accounts"]["alice"]["after"]["note"] == "on leave"
    assert settings["actor"] == "admin:admin-dev"
    assert settings["details"]["settings"] == {
        "before": {"max_sub_accounts": 99, "language": "en"},
        "after": {"max_sub_accounts": 50, "language": "en"}}
    (key_id, change), = keys["details"]["keys"].items()
    assert change["created"] is True and change["scope"] == "check"
    assert "token" not in str(keys) and key_id.startswith("k-")
    # the tenant's own chain: its revisions are 1, 2, ... and each links to the one before
    entries = page["entries"]
    assert [e["revision"] for e in entries] == [5, 4, 3, 2, 1]
    assert all(e["prev_hash"] == n["hash"] for e, n in zip(entries, entries[1:],
                                                           strict=False))
    assert entries[-1]["prev_hash"] == ledger.GENESIS


def test_filters_and_pages(owner):
    _changes(owner)
    total = owner("GET", "/v1/tenants/{t}/ledger")[1]["total"]
    by_subject = owner("GET", "/v1/tenants/{t}/ledger?subject=alice")[1]
    assert 0 < by_subject["total"] < total
    assert all("alice" in str(e) for e in by_subject["entries"])
    by_store = owner("GET", "/v1/tenants/{t}/ledger?store=shopee-sg")[1]
    assert all("shopee-sg" in str(e) for e in by_store["entries"])
    first = owner("GET", "/v1/tenants/{t}/ledger?per_page=2&page=1")[1]["entries"]
    second = owner("GET", "/v1/tenants/{t}/ledger?per_page=2&page=2")[1]["entries"]
    assert len(first) == 2 and first[1]["prev_hash"] == second[0]["hash"]
    assert owner("GET", "/v1/tenants/{t}/ledger?actor=admin:nobody")[1]["total"] == 0
    future = owner("GET", "/v1/tenants/{t}/ledger?since=2999-01-01T00:00:00%2B00:00")[1]
    assert future["total"] == 0
    assert owner("GET", "/v1/tenants/{t}/ledger?since=yesterday")[0] == 422


def _tamper(app, sql: str) -> None:
    with app.app_context():
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # The append-only trigger stops this; an attacker with the database's
                # owner rights can switch it off, which is what the chain is for.
                connection.execute(text("ALTER TABLE revision_log DISABLE TRIGGER "
                                        "revision_log_append_only"))
            connection.execute(text(sql))


@pytest.mark.parametrize("sql", [
    "UPDATE revision_log SET reason = 'nothing to see' WHERE tenant = 'acme' AND revision = 3",
    "UPDATE revision_log SET added = '[]' WHERE tenant = 'acme' AND revision = 2",
    "DELETE FROM revision_log WHERE tenant = 'acme' AND revision = 3",
    "DELETE FROM revision_log WHERE tenant = 'acme' AND revision = 5",  # the newest
])
def test_tampering_with_one_row_is_found_in_its_tenants_chain_only(app, owner, client, sql):
    _changes(owner)
    before = ledger.verify()
    assert before.ok and before.chains == 2  # acme's and globex's
    _tamper(app, sql)
    result = ledger.verify()
    (broken,) = result.broken  # globex's chain still verifies
    # a deleted row breaks the next link; a deleted newest entry leaves the head beyond
    assert broken.chain == broken.tenant == "acme" and broken.revision in (2, 3, 4, 5)
    answer = client.get("/v1/ledger/verify", headers=bearer(ADMIN)).get_json()
    assert answer["ok"] is False and answer["chains"] == 2
    assert answer["broken"] == [{"chain": "acme", "tenant": "acme",
                                 "revision": broken.revision, "problem": broken.problem}]
    runner = app.test_cli_runner()
    verdict = runner.invoke(args=["verify-ledger"])
    assert verdict.exit_code == 1
    assert f"chain acme BROKEN at tenant acme revision {broken.revision}" in verdict.stderr
    assert "globex" not in verdict.stderr


@pytest.mark.postgres
def test_postgresql_refuses_edits_to_the_ledger(postgres_url):
    from sqlalchemy.exc import DBAPIError

    from ..support import fresh_database, make_app

    app = make_app(postgres_url)
    fresh_database(app)
    with app.app_context():
        with pytest.raises(DBAPIError, match="append-only"):
            with db.engine.begin() as connection:
                connection.execute(text("UPDATE revision_log SET reason = 'x'"))
        assert ledger.verify().ok
        db.engine.dispose()


def test_the_ledger_is_the_tenants_own(client, owner):
    from ..support import GLOBEX_OWNER

    assert client.get("/v1/tenants/acme/ledger", headers=bearer(GLOBEX_OWNER)).status_code == 403
    assert client.get("/v1/ledger/verify", headers=owner.headers).status_code == 403
