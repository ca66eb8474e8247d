"""The WSGI fast path for /check answers exactly what the Flask views answer, and hands
everything that is not an ordinary check to them."""

from __future__ import annotations

import json

import pytest
from werkzeug.test import Client

from service.api.fast_check import FastCheck
from service.domain.index import TenantIndex

from ..support import ACME_CHECK, ADMIN, GLOBEX_CHECK, bearer

ALICE = {"subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"}
AUTHZEN = {"subject": {"type": "user", "id": "alice"}, "action": {"name": "orders:view"},
           "resource": {"type": "store", "id": "amazon-us"}}

# (token, path, raw body, content type): ordinary checks and every way of not being one.
CASES = [
    (ACME_CHECK, "/check", ALICE, "application/json"),
    (ACME_CHECK, "/check", {**ALICE, "store": "shopee-sg"}, "application/json"),
    (ACME_CHECK, "/check", {**ALICE, "context": {"second_factor": True}},
     "application/json; charset=utf-8"),
    (ACME_CHECK, "/check", {**ALICE, "object": "product/sku-1", "action": "edit"},
     "application/json"),
    (ACME_CHECK, "/check", {**ALICE, "subject": "nobody-here"}, "application/json"),
    (ADMIN, "/check", {**ALICE, "tenant": "acme"}, "application/json"),
    (ADMIN, "/check", ALICE, "application/json"),  # admin must name the tenant
    (GLOBEX_CHECK, "/check", {**ALICE, "tenant": "acme"}, "application/json"),  # 403
    ("acme-check.wrong-secret-0000000000", "/check", ALICE, "application/json"),
    (ACME_CHECK, "/check", {**ALICE, "subject": "a,b"}, "application/json"),
    (ACME_CHECK, "/check", {**ALICE, "extra": 1}, "application/json"),
    (ACME_CHECK, "/check", {**ALICE, "at_least_revision": 10**9}, "application/json"),
    (ACME_CHECK, "/check", {**ALICE, "at_least_revision": 1}, "application/json"),
    (ACME_CHECK, "/check", b"{not json", "application/json"),
    (ACME_CHECK, "/check", b"[1, 2]", "application/json"),
    (ACME_CHECK, "/check", ALICE, "text/plain"),
    (ACME_CHECK, "/check/batch", {"checks": [ALICE, {**ALICE, "store": "shopee-sg"},
                                             {**ALICE, "subject": "bob"}]}, "application/json"),
    (ACME_CHECK, "/check/batch", {"checks": []}, "application/json"),
    (ACME_CHECK, "/check/batch", {"checks": [ALICE, {**ALICE, "store": 3}]},
     "application/json"),
    (ADMIN, "/check/batch", {"checks": [{**ALICE, "tenant": "acme"},
                                        {**ALICE, "tenant": "globex"}]}, "application/json"),
    (ADMIN, "/check/batch", {"checks": [{**ALICE, "tenant": "acme"},
                                        {**ALICE, "tenant": "globex"}],
                             "at_least_revision": 1}, "application/json"),  # whose? 422
    # AuthZEN's Access Evaluation (issue 29): the /check it means, on the same fast path
    (ACME_CHECK, "/access/v1/evaluation", AUTHZEN, "application/json"),
    (ACME_CHECK, "/access/v1/evaluation", {**AUTHZEN, "resource": {
        "type": "product", "id": "sku-1", "properties": {"store": "amazon-us"}},
        "action": {"name": "products:edit"}, "context": {"amount": "1.00", "x": 1}},
     "application/json"),
    (ACME_CHECK, "/v1/tenants/acme/access/v1/evaluation", AUTHZEN, "application/json"),
    (ADMIN, "/v1/tenants/acme/access/v1/evaluation", AUTHZEN, "application/json"),
    (ADMIN, "/access/v1/evaluation", AUTHZEN, "application/json"),  # names no tenant: 400
    (GLOBEX_CHECK, "/v1/tenants/acme/access/v1/evaluation", AUTHZEN, "application/json"),
    (ACME_CHECK, "/access/v1/evaluation", {**AUTHZEN, "action": {}}, "application/json"),
    (ACME_CHECK, "/access/v1/evaluation", {**AUTHZEN, "resource": {"type": "record",
                                                                    "id": "r"}},
     "application/json"),
    (ACME_CHECK, "/access/v1/evaluation", b"[]", "application/json"),
    (ACME_CHECK, "/access/v1/evaluation", AUTHZEN, "text/plain"),
]


def _call(client: Client, token: str, path: str, body, content_type: str):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client.post(path, data=data, headers={**bearer(token),
                                                      "Content-Type": content_type})
    return (response.status_code, response.get_data(as_text=True),
            response.headers.get("X-Policy-Revision"), response.headers.get("Content-Type"))


@pytest.mark.parametrize("token,path,body,content_type", CASES)
def test_same_answer_as_the_flask_views(app, token, path, body, content_type):
    fast = app.extensions["fast_check"]
    assert isinstance(fast, FastCheck)
    through_flask = Client(fast.flask_wsgi)
    assert _call(Client(fast), token, path, body, content_type) == \
        _call(through_flask, token, path, body, content_type)


def test_ordinary_checks_do_not_reach_flask(app, monkeypatch):
    fast = app.extensions["fast_check"]
    reached = []
    # The first check of a key and tenant this worker does not hold yet loads them (Flask,
    # which has the database); from then on checks are answered from memory.
    assert _call(Client(app.wsgi_app), ACME_CHECK, "/check", ALICE,
                 "application/json")[0] == 200

    def flask_wsgi(environ, start_response):
        reached.append(environ["PATH_INFO"])
        start_response("500 INTERNAL SERVER ERROR", [])
        return [b""]

    monkeypatch.setattr(fast, "flask_wsgi", flask_wsgi)
    client = Client(app.wsgi_app)
    assert _call(client, ACME_CHECK, "/check", ALICE, "application/json")[0] == 200
    assert _call(client, ACME_CHECK, "/check/batch", {"checks": [ALICE] * 3},
                 "application/json")[0] == 200
    assert _call(client, ACME_CHECK, "/access/v1/evaluation", AUTHZEN,
                 "application/json")[0] == 200
    assert reached == []


def test_a_query_string_is_refused_whichever_path_answers(app):
    """The decision routes take no query parameters: a misspelled one is a 422 from a
    worker that holds the tenant as from one that does not (the fast path once answered
    it 200, ignoring it)."""
    client = Client(app.wsgi_app)
    assert _call(client, ACME_CHECK, "/check", ALICE, "application/json")[0] == 200  # held
    for path, body in (("/check", ALICE), ("/check/batch", {"checks": [ALICE]}),
                       ("/access/v1/evaluation", AUTHZEN),
                       ("/v1/tenants/acme/check", ALICE)):
        status, text, _, _ = _call(client, ACME_CHECK, f"{path}?at_least_revison=1", body,
                                   "application/json")
        assert status == 422 and "at_least_revison" in json.loads(text)["errors"]["query"], \
            (path, text)


def test_a_failure_in_the_fast_path_is_still_a_deny(app, monkeypatch):
    monkeypatch.setattr(TenantIndex, "answer", lambda *a: 1 / 0)
    status, text, _, _ = _call(Client(app.wsgi_app), ACME_CHECK, "/check", ALICE,
                               "application/json")
    assert status == 200 and json.loads(text)["allowed"] is False
    monkeypatch.undo()
    monkeypatch.setitem(app.extensions["fast_check"].routes, "/check", lambda *a: 1 / 0)
    status, text, _, _ = _call(Client(app.wsgi_app), ACME_CHECK, "/check", ALICE,
                               "application/json")
    assert status == 200 and json.loads(text)["allowed"] is True  # Flask answered it


def test_sees_writes_made_through_the_api(app, owner):
    client = Client(app.wsgi_app)
    assign = {"mode": "add", "subjects": ["alice"], "stores": ["shopee-sg"]}
    before = _call(client, ACME_CHECK, "/check", {**ALICE, "store": "shopee-sg"},
                   "application/json")
    assert json.loads(before[1])["allowed"] is False
    status, body = owner("POST", "/v1/tenants/{t}/subaccounts/batch-stores", assign)
    assert status == 200, body
    after = _call(client, ACME_CHECK, "/check", {**ALICE, "store": "shopee-sg"},
                  "application/json")
    assert json.loads(after[1])["allowed"] is True
    assert int(after[2]) > int(before[2])


def _batch_size_sum() -> float:
    from service.runtime import telemetry

    return next(s.value for metric in telemetry.BATCH_SIZE.collect() for s in metric.samples
                if s.name == "authz_batch_size_sum")


def test_a_batch_is_counted_whichever_path_answers_it(app):
    """The batch-size metric counts a batch the Flask view answers (a worker that must
    load the key or tenant first) as the fast path counts its own."""
    fast = app.extensions["fast_check"]
    batch = {"checks": [ALICE] * 7}
    for client in (Client(fast.flask_wsgi), Client(fast)):
        before = _batch_size_sum()
        assert _call(client, ACME_CHECK, "/check/batch", batch, "application/json")[0] == 200
        assert _batch_size_sum() - before == 7
