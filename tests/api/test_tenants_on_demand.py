"""Per-tenant revisions and tenants loaded on demand within a memory budget (issue 18).

A worker starts holding no tenant, loads one on the first request that needs it, keeps
the tenants it holds within AUTHZ_TENANT_CACHE_MB (least recently used out first), and a
tenant dropped and needed again is loaded as it is then. Revisions are per tenant: the
consistency token of a check is its tenant's revision.
"""

from __future__ import annotations

import random

import pytest
from sqlalchemy import event

from service.storage.models import db

from ..support import (
    ACME_CHECK,
    ACME_OWNER,
    ADMIN,
    GLOBEX_CHECK,
    GLOBEX_OWNER,
    Caller,
    bearer,
    make_app,
)

pytestmark = pytest.mark.storage  # run on both databases (tests/conftest.py)

ALICE = {"subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"}
KIM = {"subject": "kim", "store": "ebay-de", "object": "orders", "action": "view"}


def _check(client, token, body, path="/check"):
    answer = client.post(path, json=body, headers=bearer(token))
    assert answer.status_code == 200, answer.get_data()
    return answer


def test_a_worker_starts_with_no_tenant_and_loads_each_on_first_need(app, client):
    replica = app.extensions["authz"].replica
    ready = client.get("/ready").get_json()
    assert ready["ready"] is True and ready["tenants_held"] == 0
    assert _check(client, ACME_CHECK, ALICE).get_json()["allowed"] is True
    assert replica.held_tenants() == 1 and replica.decider.holds("acme")
    assert not replica.decider.holds("globex")
    # the admin names the tenant; an unknown one is denied and not held
    answer = _check(client, ADMIN, {**KIM, "tenant": "globex"}).get_json()
    assert answer["allowed"] is True and replica.decider.holds("globex")
    assert _check(client, ADMIN, {**KIM, "tenant": "nobody"}).get_json()["allowed"] is False
    assert not replica.decider.holds("nobody") and replica.held_tenants() == 2


def test_revisions_are_per_tenant(client):
    acme, globex = Caller(client, ACME_OWNER, "acme"), Caller(client, GLOBEX_OWNER, "globex")
    start = _check(client, GLOBEX_CHECK, KIM).get_json()["revision"]
    revisions = [acme("POST", "/v1/tenants/{t}/stores", {"store": f"s{i}"})[1]["revision"]
                 for i in range(3)]
    assert revisions == [revisions[0], revisions[0] + 1, revisions[0] + 2]
    # globex's revision did not move, and a token of acme's is beyond globex's head
    answer = _check(client, GLOBEX_CHECK, KIM)
    assert answer.get_json()["revision"] == start
    assert answer.headers["X-Policy-Revision"] == str(start)
    refused = client.post("/check", json={**KIM, "at_least_revision": revisions[-1] + 5},
                          headers=bearer(GLOBEX_CHECK))
    assert refused.status_code == 409
    assert "at_least_revision" in refused.get_json()["errors"]
    allowed = _check(client, ACME_CHECK, {**ALICE, "at_least_revision": revisions[-1]})
    assert allowed.get_json()["revision"] == revisions[-1]
    assert globex("GET", "/v1/tenants/{t}/policy")[1]["revision"] == start


def test_a_batch_naming_several_tenants_gives_each_ones_revision(client):
    body = {"checks": [{**ALICE, "tenant": "acme"}, {**KIM, "tenant": "globex"}]}
    answer = _check(client, ADMIN, body, "/check/batch").get_json()
    assert [r["allowed"] for r in answer["results"]] == [True, True]
    assert answer["revision"] is None and set(answer["revisions"]) == {"acme", "globex"}
    refused = client.post("/check/batch", json={**body, "at_least_revision": 1},
                          headers=bearer(ADMIN))
    assert refused.status_code == 422
    assert "at_least_revision" in refused.get_json()["errors"]["json"]


@pytest.fixture
def tight_app(database_url, app):
    """A second worker on the same database whose budget holds one tenant at a time."""
    one_tenant_mb = 0.05
    worker = make_app(database_url, AUTHZ_TENANT_CACHE_MB=1)
    worker.extensions["authz"].replica._budget = int(one_tenant_mb * 1024 * 1024)
    yield worker
    with worker.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_budget_drops_the_least_recently_used_and_a_reloaded_tenant_is_current(
        app, client, tight_app):
    tight, replica = tight_app.test_client(), tight_app.extensions["authz"].replica
    assert _check(tight, ACME_CHECK, ALICE).get_json()["allowed"] is True
    assert _check(tight, GLOBEX_CHECK, KIM).get_json()["allowed"] is True
    assert replica.decider.holds("globex") and not replica.decider.holds("acme")
    assert replica.held_bytes() <= replica._budget
    # while acme is not held, another worker disables alice
    owner = Caller(client, ACME_OWNER, "acme")
    status, body = owner("PUT", "/v1/tenants/{t}/subaccounts/alice/status",
                         {"disabled": True})
    assert status == 200, body
    again = _check(tight, ACME_CHECK, ALICE).get_json()
    assert again == {"allowed": False, "reason": "disabled", "requires": None,
                     "revision": body["revision"]}
    assert not replica.decider.holds("globex")


def test_decisions_under_a_tight_budget_equal_an_unlimited_worker(app, client, tight_app):
    """Random checks of both tenants, alternating so that each is dropped and loaded again
    and again, with writes in between: every answer equals the worker that holds all."""
    rng = random.Random(7)
    tight = tight_app.test_client()
    owner = Caller(client, ACME_OWNER, "acme")
    subjects = ["alice", "bob", "carol", "dave", "owner", "nobody"]
    stores = ["amazon-us", "shopee-sg", "tmall-flagship", "ebay-de"]
    areas = [("orders", "view"), ("orders", "refund"), ("prices", "change"),
             ("finance", "withdraw")]
    for step in range(120):
        if step % 15 == 7:
            login = rng.choice(subjects[:4])
            owner("PUT", f"/v1/tenants/{{t}}/subaccounts/{login}/status",
                  {"disabled": rng.choice([True, False])})
        token, tenant = rng.choice([(ACME_CHECK, "acme"), (GLOBEX_CHECK, "globex")])
        area, action = rng.choice(areas)
        body = {"subject": rng.choice(subjects), "store": rng.choice(stores),
                "object": area, "action": action}
        assert _check(tight, token, body).get_json() == _check(client, token, body).get_json()
    assert tight_app.extensions["authz"].replica.held_tenants() == 1


def test_a_key_is_looked_up_when_first_seen_and_a_new_key_works_at_once(app, client,
                                                                      tight_app):
    tight = tight_app.test_client()
    owner = Caller(client, ACME_OWNER, "acme")
    assert _check(tight, ACME_CHECK, ALICE).status_code == 200
    assert tight.post("/check", json=ALICE, headers=bearer("k-nope.secret")).status_code == 401
    status, created = owner("POST", "/v1/tenants/{t}/keys", {"scope": "check"})
    assert status == 201, created
    assert _check(tight, created["token"], ALICE).get_json()["allowed"] is True
    status, _ = owner("DELETE", f"/v1/tenants/{{t}}/keys/{created['key_id']}")
    assert status == 200
    assert tight.post("/check", json=ALICE, headers=bearer(created["token"])).status_code == 401


def test_the_poll_for_held_tenants_is_one_query(app, client):
    service = app.extensions["authz"]
    _check(client, ACME_CHECK, ALICE)
    _check(client, GLOBEX_CHECK, KIM)
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        service.replica.catch_up(force=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) <= 2, reads  # the heads of both tenants (and the expiries)
    assert any("tenant_head" in s for s in reads)
