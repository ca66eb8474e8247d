"""authz_client against the real service (gunicorn on a free loopback port): answers,
batches, the revision-keyed cache, retries on connection errors only, and fail-closed."""

from __future__ import annotations

import socket
import threading
from decimal import Decimal

import pytest
import requests

from authz_client import AuthzClient
from harness.servers import seeded_sqlite_instance

from ..support import ACME_CHECK, ACME_OWNER, ADMIN, bearer


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    instance = seeded_sqlite_instance(tmp_path_factory.mktemp("client"))
    yield instance
    instance.stop()


@pytest.mark.parametrize("tenant", [None, "acme"], ids=["/check", "tenant route"])
def test_check_and_check_many(service, tenant):
    client = AuthzClient(service.url, ACME_CHECK, tenant=tenant)
    allowed = client.check("alice", "amazon-us", "orders", "view")
    assert allowed and allowed.revision >= 1 and allowed.error is None
    denied = client.check("alice", "shopee-sg", "orders", "view")
    assert not denied and denied.error is None  # decided by the service, not an error
    many = client.check_many([
        {"subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"},
        {"subject": "alice", "store": "shopee-sg", "object": "orders", "action": "view"},
        {"subject": "bob", "store": "shopee-sg", "object": "refunds", "action": "approve",
         "context": {"second_factor": True}},
    ])
    assert [bool(d) for d in many] == [True, False, True]


def _grant(service, store: str, revoke: bool = False) -> int:
    path = "/permissions/revoke" if revoke else "/permissions"
    response = requests.post(f"{service.url}/v1/tenants/acme{path}", headers=bearer(ACME_OWNER),
                             json={"subject": "alice", "store": store,
                                   "permission": "reports:export"}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["revision"]


def test_the_cache_never_outlives_a_revision_the_caller_names(service):
    client = AuthzClient(service.url, ACME_CHECK, cache_seconds=60)
    first = client.check("alice", "amazon-us", "reports", "export")
    assert not first
    revision = _grant(service, "amazon-us")
    try:
        assert not client.check("alice", "amazon-us", "reports", "export")  # cached
        fresh = client.check("alice", "amazon-us", "reports", "export",
                             at_least_revision=revision)
        assert fresh and fresh.revision >= revision
    finally:
        revoked = _grant(service, "amazon-us", revoke=True)
    # any answer at a newer revision retires older cache entries
    assert client.check("alice", "tmall-flagship", "orders", "view", at_least_revision=revoked)
    assert not client.check("alice", "amazon-us", "reports", "export")


class _Listener:
    """A loopback server that counts connections and either closes them at once or holds
    them without answering."""

    def __init__(self, hold: bool):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        self.hold = hold
        self.held: list[socket.socket] = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.recv(65536)
            if self.hold:
                self.held.append(conn)
            else:
                conn.close()

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_connection_errors_are_retried_then_denied():
    server = _Listener(hold=False)
    try:
        decision = AuthzClient(server.url, ACME_CHECK, retries=2).check(
            "alice", "amazon-us", "orders", "view")
        assert not decision and "connection" in decision.error
        assert server.accepted == 3
    finally:
        server.close()


def test_a_timeout_is_denied_without_a_retry():
    server = _Listener(hold=True)
    try:
        decision = AuthzClient(server.url, ACME_CHECK, timeout=0.3, retries=2).check(
            "alice", "amazon-us", "orders", "view")
        assert not decision and decision.error
        assert server.accepted == 1
    finally:
        server.close()


def test_errors_from_the_service_are_denials_with_the_reason(service):
    wrong = AuthzClient(service.url, "acme-check.not-the-right-secret-00")
    decision = wrong.check("alice", "amazon-us", "orders", "view")
    assert not decision and decision.error.startswith("HTTP 401")
    bad = AuthzClient(service.url, ACME_CHECK).check("al,ice", "amazon-us", "orders", "view")
    assert not bad and bad.error.startswith("HTTP 422")
    assert [bool(d) for d in AuthzClient(service.url, ACME_CHECK).check_many(
        [{"subject": "alice", "store": "amazon-us", "object": "*", "action": "view"}])] == [False]


def test_explain(service):
    client = AuthzClient(service.url, ACME_CHECK)
    explained = client.explain("alice", "amazon-us", "orders", "view")
    assert explained and explained.explanation["allows"][0]["role"] == "customer-service"
    denied = client.explain("alice", "shopee-sg", "orders", "view")
    assert not denied and "not assigned" in denied.explanation["message"]
    assert denied.reason == "not_assigned" and denied.requires is None


def test_an_app_asks_about_its_own_permissions_in_each_tenant(service):
    """R21 through the client: an app's key names the tenant on each call; a tenant that
    has not installed the app is a deny with its reason; what a user may do here is one
    call, and empty (never more) on an error."""
    registered = requests.post(service.url + "/v1/apps", headers=bearer(ADMIN), timeout=5,
                               json={"app": "pulse", "name": {"en": "Pulse", "zh-CN": "脉搏"}})
    assert registered.status_code == 201, registered.text
    token = registered.json()["token"]
    published = requests.put(service.url + "/v1/apps/pulse/catalogue", headers=bearer(token),
                             timeout=5, json={"permissions": [
                                 {"name": "traffic:view",
                                  "description": {"en": "See traffic", "zh-CN": "查看流量"}}]})
    assert published.status_code == 200, published.text
    owner = bearer(ACME_OWNER)
    assert requests.put(service.url + "/v1/tenants/acme/apps/pulse", headers=owner, json={},
                        timeout=5).status_code == 200
    assert requests.post(service.url + "/v1/tenants/acme/permissions", headers=owner,
                         timeout=5, json={"subject": "alice", "store": "amazon-us",
                                          "permission": "pulse.traffic:view"}).status_code == 200
    app = AuthzClient(service.url, token)
    assert app.check("alice", "amazon-us", "pulse.traffic", "view", tenant="acme")
    denied = app.check("owner", "main", "pulse.traffic", "view", tenant="globex")
    assert not denied and denied.reason == "app_not_installed" and denied.error is None
    many = app.check_many([{"subject": "alice", "store": s, "object": "pulse.traffic",
                            "action": "view"} for s in ("amazon-us", "tmall-flagship")],
                          tenant="acme")
    assert [bool(d) for d in many] == [True, False]
    assert app.allowed_permissions("alice", "amazon-us", tenant="acme").items == {
        "pulse.traffic:view"}
    assert app.allowed_stores("alice", "pulse.traffic:view", tenant="acme").items == {
        "amazon-us"}
    storefront = AuthzClient(service.url, ACME_CHECK, tenant="acme")
    menu = storefront.allowed_permissions("alice", "amazon-us")
    assert "pulse.traffic:view" in menu and "orders:view" in menu and menu.error is None
    gone = AuthzClient("http://127.0.0.1:9", ACME_CHECK, tenant="acme", retries=0)
    empty = gone.allowed_permissions("alice", "amazon-us")
    assert empty.items == frozenset() and empty.error


def test_amounts_reasons_and_an_approval_through_the_client(service):
    """R22-R24: the client passes amounts, exposes reason and requires, files a request
    and records an approver's decision; the approved action is allowed once."""
    owner = {"headers": bearer(ACME_OWNER), "timeout": 5}
    base = f"{service.url}/v1/tenants/acme"
    for method, path, body in (
            ("POST", "/permissions", {"subject": "alice", "store": "amazon-us",
                                      "permission": "orders:cancel", "limit": "80.00"}),
            ("POST", "/permissions", {"subject": "carol", "store": "amazon-us",
                                      "permission": "approvals:decide"}),
            ("PUT", "/approval-modes/orders:cancel", {"mode": "over_limit"})):
        answer = requests.request(method, base + path, json=body, **owner)
        assert answer.status_code == 200, answer.text
    client = AuthzClient(service.url, ACME_CHECK, tenant="acme", cache_seconds=60)
    assert client.check("alice", "amazon-us", "orders", "cancel", amount="80.00")
    over = client.check("alice", "amazon-us", "orders", "cancel", amount=Decimal("80.01"))
    assert (over.allowed, over.reason, over.requires) == (False, "limit_exceeded",
                                                           "approval")
    assert client.check("alice", "amazon-us", "orders", "cancel").reason == "amount_required"
    menu = client.allowed_permissions("alice", "amazon-us")
    assert "orders:cancel" not in menu and menu.limits == {"orders:cancel": "80.00"}
    floated = client.check("alice", "amazon-us", "orders", "cancel", amount=80.0)
    assert not floated and "float" in floated.error  # refused before it is sent
    filed = client.request_approval("alice", "amazon-us", "orders:cancel", amount="95.00",
                                    note="bulk order")
    assert filed and filed.state == "pending", filed
    assert [a.id for a in client.approval_queue("carol")] == [filed.id]
    assert not client.decide_approval(filed.id, "alice", True)  # never the requester
    assert client.decide_approval(filed.id, "carol", True).state == "approved"
    used = client.check("alice", "amazon-us", "orders", "cancel", amount="95.00",
                        approval=filed.id)
    assert used and used.reason == "granted"
    again = client.check("alice", "amazon-us", "orders", "cancel", amount="95.00",
                         approval=filed.id)
    assert not again and again.reason == "approval_used"  # a use is never cached
    assert not client.request_approval("alice", "amazon-us", "orders:cancel", amount=1.5)
