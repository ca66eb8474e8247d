"""The decision log (R19): what is kept, the deciding rule at its revision, queries,
retention; the impact preview and the unused-grant report built on it."""

from __future__ import annotations

import json

import pytest

from ..support import ACME_CHECK, bearer

pytestmark = pytest.mark.storage  # run on both databases (tests/conftest.py)

ALICE = {"subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"}


def _flush(app) -> int:
    with app.app_context():
        return app.extensions["authz"].decision_log.flush()


def test_denies_and_high_risk_allows_are_kept_with_their_rule(app, owner, checker):
    app.extensions["authz"].decision_log.rate = 0.0  # no sampled allows: only what must be
    checker.check("alice", "amazon-us", "orders", "view")          # allow, ordinary: not kept
    checker.check("alice", "shopee-sg", "orders", "view")          # deny: kept
    checker.check("bob", "shopee-sg", "refunds", "approve")        # high-risk allow: kept
    owner("POST", "/v1/tenants/{t}/denies", {"subject": "carol", "store": "all",
                                             "permission": "finance:view"})
    checker.check("carol", "amazon-us", "finance", "view")         # deny by the new rule
    assert _flush(app) == 3
    status, page = owner("GET", "/v1/tenants/{t}/decisions")
    assert status == 200 and page["total"] == 3
    carol, bob, alice = page["entries"]
    assert (alice["subject"], alice["allowed"], alice["sampled"]) == ("alice", False, False)
    assert alice["reason"] == "not_assigned" and alice["consistent"]
    assert "not assigned" in alice["message"]
    assert bob["allowed"] is True and bob["permission"] == "refunds:approve"
    assert "p, user:acme:bob, acme/shopee-sg, refunds, approve, allow" in bob["rules"]
    assert carol["rules"] == ["p, user:acme:carol, acme, finance, view, deny"]
    assert carol["revision"] > bob["revision"]
    only = owner("GET", "/v1/tenants/{t}/decisions?subject=bob&allowed=true")[1]
    assert [e["subject"] for e in only["entries"]] == ["bob"]
    none = owner("GET", "/v1/tenants/{t}/decisions?since=2999-01-01T00:00:00%2B00:00")[1]
    assert none["total"] == 0


def test_sampling_keeps_a_share_of_ordinary_allows(app, client):
    log = app.extensions["authz"].decision_log
    log.rate = 0.25
    checks = [ALICE] * 1000
    client.post("/check/batch", json={"checks": checks}, headers=bearer(ACME_CHECK))
    assert _flush(app) == 1  # one decision, asked 1,000 times: one entry, counted
    entry = _entries(app)[0]
    assert entry["sampled"] and 150 < entry["count"] < 350  # 1,000 allows at 25 %
    log.enabled = False
    client.post("/check/batch", json={"checks": checks}, headers=bearer(ACME_CHECK))
    assert _flush(app) == 0


def _entries(app) -> list[dict]:
    from service.usecases import decision_log

    from ..support import ACME_AUDIT

    service = app.extensions["authz"]
    auditor = service.replica.authenticate(f"Bearer {ACME_AUDIT}")
    with app.app_context():
        return decision_log.entries(service, auditor, "acme", {"page": 1, "per_page": 500})[1]


def test_the_same_decision_again_is_counted_until_the_policy_changes(app, owner, checker):
    for _ in range(7):
        checker.check("alice", "shopee-sg", "orders", "view")
    owner("POST", "/v1/tenants/{t}/stores", {"store": "lazada-my"})   # a new revision
    for _ in range(2):
        checker.check("alice", "shopee-sg", "orders", "view")
    checker.check("alice", "shopee-sg", "orders", "edit")
    assert _flush(app) == 3
    newest, again, first = _entries(app)
    assert (first["count"], again["count"], newest["count"]) == (7, 2, 1)
    assert again["revision"] == first["revision"] + 1
    assert first["time"] <= first["last_time"] <= again["time"]
    from datetime import UTC, datetime
    age = datetime.now(UTC) - datetime.fromisoformat(newest["last_time"])
    assert 0 <= age.total_seconds() < 60  # stamped in UTC, when it was asked


def test_retention_deletes_old_entries(app, checker, monkeypatch):
    """Also on a host that booted seconds ago: the monotonic clock starts near the host's
    uptime, so a fresh worker must not wait for it to pass the sweep interval."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func, select, update

    from service.storage.models import DecisionLogEntry, db

    checker.check("alice", "shopee-sg", "orders", "view")
    log = app.extensions["authz"].decision_log
    _flush(app)
    with app.app_context():
        old = datetime.now(UTC) - timedelta(days=31)
        db.session.execute(update(DecisionLogEntry).values(at=old, last_at=old))
        db.session.commit()
    log._pruned_at = None  # a fresh worker...
    # ...that booted seconds ago
    monkeypatch.setattr("service.runtime.decision_log.time.monotonic", lambda: 5.0)
    _flush(app)
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(DecisionLogEntry)).scalar() == 0


def test_impact_preview_replays_recent_decisions(app, owner, checker):
    app.extensions["authz"].decision_log.rate = 1.0
    for _ in range(3):
        checker.check("bob", "shopee-sg", "refunds", "approve")
        checker.check("alice", "amazon-us", "reports", "export")
    _flush(app)
    text = owner.client.get("/v1/tenants/acme/export.csv", headers=owner.headers).data.decode()
    edited = text.replace("p, user:acme:bob, acme/shopee-sg, refunds, approve, allow\n", "")
    edited += "p, user:acme:alice, acme/amazon-us, reports, export, allow\n"
    status, plan = owner("POST", "/v1/tenants/{t}/import", {"csv": edited})
    impact = plan["recent_decisions"]
    assert impact["replayed"] == 2 and impact["flips"] == 2
    assert {(i["subject"], i["count"], i["was"], i["would_be"]) for i in impact["items"]} == {
        ("bob", 3, True, False), ("alice", 3, False, True)}


def test_unused_grants(app, owner, checker):
    app.extensions["authz"].decision_log.rate = 1.0
    checker.check("bob", "shopee-sg", "refunds", "approve")  # uses bob's supplementary grant
    _flush(app)
    status, report = owner("GET", "/v1/tenants/{t}/unused-grants?days=7")
    assert status == 200 and report["grants"] > 0
    assert "p, user:acme:bob, acme/shopee-sg, refunds, approve, allow" not in report["unused"]
    assert len(report["unused"]) == report["grants"] - 1


@pytest.mark.parametrize("query", ["since=yesterday", "allowed=maybe", "per_page=0"])
def test_bad_queries_are_named(owner, query):
    status, body = owner("GET", f"/v1/tenants/{{t}}/decisions?{query}")
    assert status == 422 and query.split("=")[0] in json.dumps(body["errors"])
