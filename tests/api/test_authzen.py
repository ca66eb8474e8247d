"""The OpenID AuthZEN Authorization API 1.0 (issue 29): every evaluation answers what
/check answers for the same question (a differential test over random questions), the
searches are complete and exact and equal who-can, allowed/stores and
allowed/permissions, and the certification profile's protocol requirements that do not
depend on its fixture hold: response format, error handling, headers and request ids,
idempotency, transport, pagination and metadata."""

from __future__ import annotations

import itertools
import random

import pytest

from service.domain import catalogue

from ..support import ACME_AUDIT, ACME_CHECK, ACME_OWNER, ADMIN, GLOBEX_CHECK, Caller, bearer

EVALUATION = "/access/v1/evaluation"
EVALUATIONS = "/access/v1/evaluations"
SEARCH = "/access/v1/search"
LOGINS = ("owner", "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan",
          "nobody")
STORES = ("amazon-us", "tmall-flagship", "shopee-sg", "ghost")
PERMS = tuple(p.name for p in catalogue.PERMISSIONS)


def ask(subject: str, store: str, permission: str, product: str | None = None,
        **context) -> dict:
    resource = {"type": "store", "id": store} if product is None else {
        "type": "product", "id": product, "properties": {"store": store}}
    body = {"subject": {"type": "user", "id": subject}, "resource": resource,
            "action": {"name": permission}}
    if context:
        body["context"] = context
    return body


def as_check(subject: str, store: str, permission: str, product: str | None = None,
             **context) -> dict:
    area, _, action = permission.rpartition(":")
    obj = area if product is None else f"product/{product}"
    body = {"subject": subject, "store": store, "object": obj, "action": action}
    if context:
        body["context"] = context
    return body


def everyone(client) -> list[str]:
    """Every subject of acme: the owner and each sub-account, and one it does not have."""
    _, listed = Caller(client, ACME_OWNER, "acme")("GET", "/v1/tenants/acme/subaccounts"
                                                           "?per_page=100")
    return ["owner", "nobody", *(i["login"] for i in listed["items"])]


def post(client, path: str, body, token: str = ACME_CHECK, **headers):
    response = client.post(path, json=body, headers={**bearer(token), **headers})
    return response.status_code, response.get_json(), response


def test_an_evaluation_answers_what_check_answers(client):
    """Random questions over the seed: decision, reason, requires and revision equal."""
    rng = random.Random(29)
    asked = [(rng.choice(LOGINS), rng.choice(STORES), rng.choice(PERMS)) for _ in range(150)]
    asked += [("frank", "amazon-us", "products:edit", "sku-1"),
              ("carol", "amazon-us", "finance:withdraw", None, {"second_factor": True}),
              ("bob", "shopee-sg", "refunds:approve", None, {"amount": "150.00"})]
    for question in asked:
        subject, store, perm, *rest = question
        product = rest[0] if rest else None
        context = rest[1] if len(rest) > 1 else {}
        status, check, _ = post(client, "/check", as_check(subject, store, perm, product,
                                                           **context))
        assert status == 200, check
        status, answer, response = post(client, EVALUATION, ask(subject, store, perm,
                                                                product, **context))
        assert status == 200, answer
        assert response.mimetype == "application/json"
        assert answer == {"decision": check["allowed"], "context": {
            "reason": check["reason"], "requires": check["requires"],
            "revision": check["revision"]}}, question


def test_the_tenant_base_answers_the_same_and_keeps_tenants_apart(client):
    body = ask("alice", "amazon-us", "orders:view")
    _, by_key, _ = post(client, EVALUATION, body)
    assert post(client, f"/v1/tenants/acme{EVALUATION}", body)[1] == by_key
    assert post(client, f"/v1/tenants/acme{EVALUATION}", body, ADMIN)[1] == by_key
    status, answer, _ = post(client, f"/v1/tenants/acme{EVALUATION}", body, GLOBEX_CHECK)
    assert status == 403 and answer["code"] == 403
    status, answer, _ = post(client, EVALUATION, body, ADMIN)  # the admin names the tenant
    assert status == 400 and "tenant" in answer["errors"]
    assert post(client, EVALUATION, body, "nobody.not-a-real-token-000000")[0] == 401
    assert client.post(EVALUATION, json=body).status_code == 401
    _, globex, _ = post(client, EVALUATION, body, GLOBEX_CHECK)  # globex's own alice
    assert globex["context"]["reason"] != "granted" or globex["decision"] is True


@pytest.mark.parametrize(("body", "field"), [
    ({"action": {"name": "orders:view"}, "resource": {"type": "store", "id": "amazon-us"}},
     "subject"),
    ({"subject": {"type": "user", "id": "alice"}, "resource": {"type": "store",
                                                               "id": "amazon-us"}},
     "action"),
    ({"subject": {"type": "user", "id": "alice"}, "action": {"name": "orders:view"}},
     "resource"),
    (ask("alice", "amazon-us", "orders:view") | {"subject": {"id": "alice"}}, "subject.type"),
    (ask("alice", "amazon-us", "orders:view") | {"subject": {"type": "user"}}, "subject.id"),
    (ask("alice", "amazon-us", "orders:view") | {"action": {}}, "action.name"),
    (ask("alice", "amazon-us", "orders:view") | {"resource": {"id": "amazon-us"}},
     "resource.type"),
    (ask("alice", "amazon-us", "orders:view") | {"resource": {"type": "store"}}, "resource.id"),
    (ask("alice", "amazon-us", "orders:view") | {"subject": "alice"}, "subject"),
    (ask("alice", "amazon-us", "orders:view") | {"action": {"name": 123}}, "action.name"),
    (ask("alice", "amazon-us", "orders:view") | {"action": {"name": "view"}}, "action.name"),
    (ask("alice", "amazon-us", "orders:view") | {"resource": {"type": "record", "id": "r1"}},
     "resource.type"),
    (ask("alice", "amazon-us", "orders:view", amount="1e3"), "context.amount"),
    (ask("Alice!", "amazon-us", "orders:view"), "subject.id"),
    (ask("alice", "amazon-us", "products:edit", "sku 1"), "resource.id"),
    ({"subject": {"type": "user", "id": "alice"}, "action": {"name": "products:edit"},
      "resource": {"type": "product", "id": "sku-1"}}, "resource.properties.store"),
])
def test_bad_input_is_a_400_naming_the_field(client, body, field):
    status, answer, _ = post(client, EVALUATION, body)
    assert status == 400, answer
    assert field in answer["errors"], answer


def test_transport_errors_and_request_ids(client):
    headers = bearer(ACME_CHECK)
    for data, content_type in (("not json", "application/json"), ("", "application/json"),
                               ('{"subject": 1}', "text/plain"), ("[1, 2]", "application/json")):
        response = client.post(EVALUATION, data=data, headers={
            **headers, "Content-Type": content_type})
        assert response.status_code == 400, (data, response.get_json())
    body = ask("alice", "amazon-us", "orders:view")
    _, _, response = post(client, EVALUATION, body, **{"X-Request-ID": "gw-42"})
    assert response.headers["X-Request-ID"] == "gw-42"
    _, _, response = post(client, EVALUATION, body)
    assert response.headers.get("X-Request-ID")  # one of its own when none was sent
    assert {post(client, EVALUATION, body)[1]["decision"] for _ in range(5)} == {True}


def test_unknown_fields_are_ignored_as_the_specification_requires(client):
    body = ask("alice", "amazon-us", "orders:view", time="2026-12-07T10:00:00Z")
    body["subject"]["properties"] = {"department": "customer-care"}
    body["action"]["properties"] = {"method": "GET"}
    body["extension"] = {"x": 1}
    status, answer, _ = post(client, EVALUATION, body)
    assert status == 200 and answer["decision"] is True


def test_evaluations_take_defaults_and_the_three_semantics(client):
    body = {"subject": {"type": "user", "id": "alice"},
            "action": {"name": "orders:view"},
            "evaluations": [
                {"resource": {"type": "store", "id": "amazon-us"}},
                {"resource": {"type": "store", "id": "shopee-sg"}},
                {"resource": {"type": "store", "id": "tmall-flagship"}},
                {"resource": {"type": "store", "id": "amazon-us"},
                 "action": {"name": "finance:withdraw"}}]}
    status, answer, _ = post(client, EVALUATIONS, body)
    assert status == 200, answer
    decisions = [e["decision"] for e in answer["evaluations"]]
    expected = [post(client, "/check", as_check("alice", s, p))[1]["allowed"] for s, p in (
        ("amazon-us", "orders:view"), ("shopee-sg", "orders:view"),
        ("tmall-flagship", "orders:view"), ("amazon-us", "finance:withdraw"))]
    assert decisions == expected == [True, False, True, False]
    for semantic, length in (("execute_all", 4), ("deny_on_first_deny", 2),
                             ("permit_on_first_permit", 1)):
        _, answer, _ = post(client, EVALUATIONS, {**body, "options": {
            "evaluations_semantic": semantic}})
        assert [e["decision"] for e in answer["evaluations"]] == expected[:length], semantic
    status, answer, _ = post(client, EVALUATIONS, {**body, "options": {
        "evaluations_semantic": "all_of_them"}})
    assert status == 400 and "options.evaluations_semantic" in answer["errors"]


def test_a_bad_evaluation_is_a_deny_naming_its_error_and_the_others_are_answered(client):
    body = {"subject": {"type": "user", "id": "alice"}, "evaluations": [
        {"action": {"name": "orders:view"}, "resource": {"type": "store", "id": "amazon-us"}},
        {"action": {"name": "orders:view"}},
        {"action": {"name": "refunds:approve"}, "context": {"approval": "a1"},
         "resource": {"type": "store", "id": "amazon-us"}}]}
    status, answer, _ = post(client, EVALUATIONS, body)
    assert status == 200, answer
    first, second, third = answer["evaluations"]
    assert first["decision"] is True
    assert second["decision"] is False and "resource" in second["context"]["error"]["errors"]
    assert third["decision"] is False and "context.approval" in third["context"]["error"][
        "errors"]


@pytest.mark.parametrize("evaluations", [None, []])
def test_evaluations_without_items_is_one_evaluation(client, evaluations):
    body = ask("alice", "amazon-us", "orders:view")
    if evaluations is not None:
        body["evaluations"] = evaluations
    status, answer, _ = post(client, EVALUATIONS, body)
    assert status == 200 and answer == post(client, EVALUATION, ask(
        "alice", "amazon-us", "orders:view"))[1]


def test_an_approval_is_used_once_through_an_evaluation(client):
    owner = Caller(client, ACME_OWNER, "acme")
    assert owner("PUT", "/v1/tenants/acme/approval-modes/refunds:approve",
                 {"mode": "always"})[0] == 200
    status, filed = owner("POST", "/v1/tenants/acme/approvals", {
        "subject": "bob", "store": "shopee-sg", "permission": "refunds:approve"})
    assert status == 201, filed
    assert owner("POST", f"/v1/tenants/acme/approvals/{filed['id']}/decision",
                 {"approve": True})[0] == 200
    body = ask("bob", "shopee-sg", "refunds:approve", approval=filed["id"])
    assert [post(client, EVALUATION, body)[1]["context"]["reason"] for _ in range(2)] == [
        "granted", "approval_used"]


# -- search ---------------------------------------------------------------------------
def _search(client, kind: str, body: dict, token: str = ACME_CHECK) -> list[str]:
    """Every page of a search, following next_token; the ids (or names) found."""
    found, page = [], {"limit": 2}
    for _ in range(100):
        status, answer, response = post(client, f"{SEARCH}/{kind}", {**body, "page": page},
                                        token)
        assert status == 200, answer
        assert response.mimetype == "application/json"
        assert answer["page"]["count"] == len(answer["results"]) <= 2
        found += [r.get("id", r.get("name")) for r in answer["results"]]
        if answer["page"]["next_token"] == "":
            assert answer["page"]["total"] == len(found)
            return found
        page = {"limit": 2, "token": answer["page"]["next_token"]}
    raise AssertionError("no last page")


def test_subject_search_equals_who_can_and_each_result_evaluates_true(client):
    owner = Caller(client, ACME_OWNER, "acme")
    for store, perm in itertools.product(("amazon-us", "shopee-sg"),
                                         ("orders:view", "refunds:approve", "finance:withdraw")):
        body = {"subject": {"type": "user", "id": "ignored"},
                "resource": {"type": "store", "id": store}, "action": {"name": perm}}
        found = _search(client, "subject", body)
        _, who = owner("GET", f"/v1/tenants/acme/who-can?permission={perm}&store={store}")
        assert sorted(found) == sorted(i["subject"] for i in who["items"]), (store, perm)
        allowed = [s for s in everyone(client)
                   if post(client, EVALUATION, ask(s, store, perm))[1]["decision"]]
        assert sorted(found) == sorted(allowed)


def test_resource_and_action_searches_equal_the_allowed_routes(client):
    for subject in ("alice", "bob", "carol", "owner"):
        body = {"subject": {"type": "user", "id": subject}, "resource": {"type": "store"},
                "action": {"name": "orders:view"}}
        stores = _search(client, "resource", body)
        response = client.get(f"/v1/tenants/acme/allowed/stores?subject={subject}"
                              "&permission=orders:view", headers=bearer(ACME_CHECK))
        assert stores == response.get_json()["stores"], subject
        for store in ("amazon-us", "shopee-sg"):
            perms = _search(client, "action", {"subject": {"type": "user", "id": subject},
                                               "resource": {"type": "store", "id": store}})
            response = client.get(f"/v1/tenants/acme/allowed/permissions?subject={subject}"
                                  f"&store={store}", headers=bearer(ACME_CHECK))
            assert sorted(perms) == sorted(response.get_json()["permissions"]), (subject, store)


def test_a_search_with_an_amount_is_exact(client):
    """Context narrows a search exactly as it narrows each evaluation (R22)."""
    owner = Caller(client, ACME_OWNER, "acme")
    assert owner("POST", "/v1/tenants/acme/permissions", {  # bob's grant, up to 200.00
        "subject": "bob", "store": "shopee-sg", "permission": "refunds:approve",
        "limit": "200.00"})[0] == 200
    by_amount = {}
    for amount in ("10.00", "150.00", "100000.00"):
        body = {"subject": {"type": "user"}, "resource": {"type": "store", "id": "shopee-sg"},
                "action": {"name": "refunds:approve"}, "context": {"amount": amount}}
        found = _search(client, "subject", body)
        allowed = [s for s in everyone(client) if post(client, EVALUATION, ask(
            s, "shopee-sg", "refunds:approve", amount=amount))[1]["decision"]]
        assert sorted(found) == sorted(allowed), amount
        by_amount[amount] = set(found)
    assert by_amount["100000.00"] < by_amount["10.00"]  # the limit narrowed it


def test_pagination_tokens_are_bound_to_their_request(client):
    body = {"subject": {"type": "user"}, "resource": {"type": "store", "id": "amazon-us"},
            "action": {"name": "orders:view"}, "page": {"limit": 1}}
    status, first, _ = post(client, f"{SEARCH}/subject", body)
    assert status == 200 and first["page"]["next_token"]
    changed = {**body, "action": {"name": "orders:ship"},
               "page": {"limit": 1, "token": first["page"]["next_token"]}}
    status, answer, _ = post(client, f"{SEARCH}/subject", changed)
    assert status == 400 and "page.token" in answer["errors"]
    status, answer, _ = post(client, f"{SEARCH}/subject", {**body, "page": {"token": "junk"}})
    assert status == 400 and "page.token" in answer["errors"]
    status, answer, _ = post(client, f"{SEARCH}/subject", {**body, "page": {"limit": -1}})
    assert status == 400 and "page.limit" in answer["errors"]


def test_unknown_types_find_nothing_and_missing_inputs_are_400(client):
    unknown = {"subject": {"type": "robot"}, "resource": {"type": "store", "id": "amazon-us"},
               "action": {"name": "orders:view"}}
    status, answer, _ = post(client, f"{SEARCH}/subject", unknown)
    assert status == 200 and answer["results"] == [] and answer["page"]["next_token"] == ""
    status, answer, _ = post(client, f"{SEARCH}/resource", {
        "subject": {"type": "user", "id": "alice"}, "resource": {"type": "record"},
        "action": {"name": "orders:view"}})
    assert status == 200 and answer["results"] == []
    for kind, body, field in (
        ("subject", {"subject": {"type": "user"}, "resource": {"type": "store"},
                     "action": {"name": "orders:view"}}, "resource.id"),
        ("resource", {"subject": {"type": "user"}, "resource": {"type": "store"},
                      "action": {"name": "orders:view"}}, "subject.id"),
        ("action", {"subject": {"type": "user"}, "resource": {"type": "store",
                                                              "id": "amazon-us"}},
         "subject.id"),
        ("subject", {"resource": {"type": "store", "id": "amazon-us"},
                     "action": {"name": "orders:view"}}, "subject"),
    ):
        status, answer, _ = post(client, f"{SEARCH}/{kind}", body)
        assert status == 400 and field in answer["errors"], (kind, answer)


def test_the_metadata_describes_both_bases_without_a_key(client):
    response = client.get("/.well-known/authzen-configuration")
    assert response.status_code == 200 and response.mimetype == "application/json"
    meta = response.get_json()
    base = meta["policy_decision_point"]
    assert meta["access_evaluation_endpoint"] == f"{base}{EVALUATION}"
    assert {k for k in meta if k.endswith("_endpoint")} == {
        "access_evaluation_endpoint", "access_evaluations_endpoint", "search_subject_endpoint",
        "search_resource_endpoint", "search_action_endpoint"}
    tenant = client.get("/.well-known/authzen-configuration/v1/tenants/acme").get_json()
    assert tenant["policy_decision_point"] == f"{base}/v1/tenants/acme"
    path = tenant["access_evaluations_endpoint"][len(base):]
    assert post(client, path, ask("alice", "amazon-us", "orders:view"))[0] == 200
    assert client.get("/.well-known/authzen-configuration/v1/tenants/Bad!").status_code == 400


def test_an_auditor_key_is_answered_like_a_check_key(client):
    body = ask("alice", "amazon-us", "orders:view")
    assert post(client, EVALUATION, body, ACME_AUDIT)[1]["decision"] is True


def test_an_evaluation_that_is_not_an_object_is_a_deny_and_a_zero_limit_only_counts(client):
    status, answer, _ = post(client, EVALUATIONS, {
        "subject": {"type": "user", "id": "alice"}, "action": {"name": "orders:view"},
        "evaluations": ["amazon-us", {"resource": {"type": "store", "id": "amazon-us"}}]})
    assert status == 200, answer
    assert [e["decision"] for e in answer["evaluations"]] == [False, True]
    status, answer, _ = post(client, f"{SEARCH}/subject", {
        "subject": {"type": "user"}, "resource": {"type": "store", "id": "amazon-us"},
        "action": {"name": "orders:view"}, "page": {"limit": 0}})
    assert status == 200 and answer["results"] == [] and answer["page"]["next_token"] == ""
    assert answer["page"]["total"] > 0
