"""Hostile values on every write and check route: a 4xx in the documented error shape,
nothing stored, nothing changed in memory - and the route's well-formed request works,
so a 4xx here is the validation speaking, not a broken request."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from service.storage import policy_store

from ..support import ACME_CHECK, ACME_OWNER, bearer

TENANTS = ("acme", "globex")
HOSTILE_STRINGS = [
    "a,b", 'al"ice', "a'b", "a)b", "keyMatch(a)", "a\nb", "a\r\nb", "a\tb", "a\x00b", "*",
    ".*", "(a+)+$", "[a-z]*", "x" * 65, "x" * 65_536, "", " ", "ALICE", "alice ", "ü",
    "a/b", "a:b", "a@b", "a~b", "acme/amazon-us", "user:acme:alice", "../x", "%2e",
    "\u202e", "a;b",
]
HOSTILE_TYPES = [7, 1.5, True, None, [], {}, ["alice"], {"$ne": 1}]
# Free text that never enters a rule: any string is a legitimate value there.
FREE_TEXT = {"reason", "display_name", "note", "name", "email", "phone"}

# (method, path, a well-formed body against the seed policy, statuses that body may get)
ROUTES = [
    ("POST", "/v1/tenants/acme/stores", {"store": "ebay-de"}, (201,)),
    ("DELETE", "/v1/tenants/acme/stores/shopee-sg", None, (200,)),
    ("PUT", "/v1/tenants/acme/stores/amazon-us/mode", {"mode": "by-product"}, (200,)),
    ("PUT", "/v1/tenants/acme/stores/amazon-us/currency", {"currency": "EUR"}, (200,)),
    ("PUT", "/v1/tenants/acme/approval-modes/refunds:approve", {"mode": "over_limit"},
     (200,)),
    ("PUT", "/v1/tenants/acme/stores/tmall-flagship/products/sku-9/operators/alice", {},
     (200,)),
    ("DELETE", "/v1/tenants/acme/stores/tmall-flagship/products/sku-1001/operators/grace",
     None, (200,)),
    ("POST", "/v1/tenants/acme/roles", {"role": "packer", "permissions": ["orders:ship"]},
     (201,)),
    ("PUT", "/v1/tenants/acme/roles/designer", {"permissions": ["products:view"]}, (200,)),
    ("DELETE", "/v1/tenants/acme/roles/marketing", None, (200, 409)),
    ("POST", "/v1/tenants/acme/grants",
     {"subject": "alice", "role": "warehouse", "stores": ["amazon-us"]}, (200,)),
    ("POST", "/v1/tenants/acme/grants/revoke",
     {"department": "customer-care", "role": "customer-service", "stores": "all"}, (200, 404)),
    ("POST", "/v1/tenants/acme/permissions",
     {"subject": "alice", "store": "amazon-us", "permission": "orders:ship"}, (200,)),
    ("POST", "/v1/tenants/acme/permissions/revoke",
     {"subject": "alice", "store": "amazon-us", "permission": "orders:ship"}, (200, 404)),
    ("POST", "/v1/tenants/acme/denies",
     {"subject": "alice", "store": "all", "permission": "orders:view"}, (200,)),
    ("POST", "/v1/tenants/acme/denies/revoke",
     {"department": "customer-care", "store": "all", "permission": "refunds:approve"},
     (200, 404)),
    ("PUT", "/v1/tenants/acme/subaccounts/alice/stores", {"stores": ["amazon-us"]}, (200,)),
    ("PUT", "/v1/tenants/acme/subaccounts/alice/status", {"disabled": True}, (200,)),
    ("PUT", "/v1/tenants/acme/subaccounts/alice/default-store", {"store": "amazon-us"},
     (200,)),
    ("PATCH", "/v1/tenants/acme/subaccounts/alice", {"note": "night shift"}, (200,)),
    ("POST", "/v1/tenants/acme/subaccounts",
     {"login": "zed", "display_name": "Zed", "email": "zed@example.com",
      "stores": ["amazon-us"], "departments": ["customer-care"],
      "roles": [{"role": "designer", "stores": ["amazon-us"]}]}, (201,)),
    ("POST", "/v1/tenants/acme/subaccounts/batch-stores",
     {"mode": "add", "subjects": ["alice", "bob"], "stores": ["shopee-sg"]}, (200,)),
    ("POST", "/v1/tenants/acme/departments", {"department": "night"}, (201,)),
    ("PATCH", "/v1/tenants/acme/departments/accounting", {"name": "Accounts"}, (200,)),
    ("PUT", "/v1/tenants/acme/departments/accounting/members/alice", {}, (200,)),
    ("DELETE", "/v1/tenants/acme/departments/customer-care/members/alice", None, (200,)),
    ("PATCH", "/v1/tenants/acme/settings", {"step_up": True}, (200,)),
    ("POST", "/v1/tenants/acme/keys", {"scope": "check"}, (201,)),
    ("DELETE", "/v1/tenants/acme/keys/acme-check", None, (200,)),
]
CHECKS = [
    ("POST", "/check", {"subject": "alice", "store": "amazon-us", "object": "orders",
                        "action": "view", "context": {"second_factor": False}}, (200,)),
    ("POST", "/check/batch", {"checks": [{"subject": "alice", "store": "amazon-us",
                                          "object": "product/sku-1", "action": "view"}]},
     (200,)),
]


def _variants(body, path, free=FREE_TEXT, fine=lambda value, body: False):
    """(label, body) with one value replaced by a hostile value or a wrong type; keys in
    `free` are free text (left alone), and `fine(value, body)` says a replacement that is
    as well-formed as the original (a flag's other value, another whole number)."""
    if isinstance(body, dict):
        for key, value in body.items():
            if key in free:
                continue
            for label, changed in _variants(value, f"{path}.{key}", free, fine):
                yield label, {**body, key: changed}
    elif isinstance(body, list):
        for i, value in enumerate(body):
            for label, changed in _variants(value, f"{path}[{i}]", free, fine):
                yield label, body[:i] + [changed] + body[i + 1:]
    if isinstance(body, str | int):  # (bool is an int)
        for value in HOSTILE_STRINGS + HOSTILE_TYPES:
            if type(value) is type(body) is bool or type(value) is type(body) is int \
                    or fine(value, body):
                continue
            yield f"{path}={value!r:.40}", value


def _path_variants(path: str):
    parts = path.split("/")
    # every segment after /v1/tenants/acme that is a name (not a fixed word of the route)
    names = {"acme", "shopee-sg", "amazon-us", "tmall-flagship", "sku-9", "sku-1001",
             "alice", "grace", "designer", "marketing", "accounting", "customer-care",
             "acme-check"}
    for i, part in enumerate(parts):
        if part in names:
            for value in HOSTILE_STRINGS:
                if value and value not in ("%2e", "../x"):  # routing, not our validation
                    yield f"path[{part}]={value!r:.30}", "/".join(
                        parts[:i] + [quote(value, safe="")] + parts[i + 1:])


def snapshot(app) -> tuple:
    service = app.extensions["authz"]
    with app.app_context():
        service.replica.catch_up(force=True)  # what a request would see
        for tenant in TENANTS:
            service.replica.hold(tenant)
        head = tuple(policy_store.head(t) for t in TENANTS)
        stored = tuple((sorted(policy_store.read(t).rules()), policy_store.directory(t))
                       for t in TENANTS)
        keys = sorted(service.replica._keys)
    memory = tuple(sorted(service.decider.rules(t)) for t in TENANTS)
    return head, stored, memory, keys


def _assert_refused(response, label):
    assert 400 <= response.status_code < 500, (label, response.status_code,
                                               response.get_data()[:300])
    body = response.get_json()
    assert body is not None, label
    assert {"code", "status", "message"} <= body.keys(), (label, body)
    assert body["code"] == response.status_code


@pytest.mark.parametrize("method,path,body,ok", ROUTES + CHECKS,
                         ids=[f"{m} {p}" for m, p, _, _ in ROUTES + CHECKS])
def test_hostile_values_change_nothing(app, client, method, path, body, ok):
    token = ACME_CHECK if path.startswith("/check") else ACME_OWNER
    headers = bearer(token)
    before = snapshot(app)
    tried = 0
    for label, changed in _variants(body, "body") if body is not None else ():
        response = client.open(path, method=method, json=changed, headers=headers)
        _assert_refused(response, label)
        tried += 1
    for label, changed_path in _path_variants(path):
        response = client.open(changed_path, method=method, json=body, headers=headers)
        _assert_refused(response, label)
        tried += 1
    raw_bodies = (("not json", b"{nope"), ("a list", b"[]"), ("a string", b'"x"'),
                  ("deep", b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
                  ("deep list", b"[" * 100_000 + b"]" * 100_000))
    for label, raw in raw_bodies if body is not None else ():
        response = client.open(path, method=method, data=raw, headers={
            **headers, "Content-Type": "application/json"})
        _assert_refused(response, label)
        tried += 1
    assert snapshot(app) == before
    assert tried > 20
    response = client.open(path, method=method, json=body, headers=headers)
    assert response.status_code in ok, response.get_json()


def test_oversized_bodies_and_batches(app, client):
    before = snapshot(app)
    huge = {"store": "x" * (2 * 1024 * 1024)}
    response = client.post("/v1/tenants/acme/stores", json=huge, headers=bearer(ACME_OWNER))
    _assert_refused(response, "2 MB body")
    assert response.status_code == 413
    check = {"subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"}
    response = client.post("/check/batch", json={"checks": [check] * 1001},
                           headers=bearer(ACME_CHECK))
    _assert_refused(response, "1001 checks")
    response = client.post("/check", data=json.dumps(check).encode() * 40_000,
                           headers={**bearer(ACME_CHECK), "Content-Type": "application/json"})
    _assert_refused(response, "1.6 MB check")
    assert snapshot(app) == before
