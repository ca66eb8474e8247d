"""The hand-written /check reader agrees with the documented schemas on any input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from service.api import check_input
from service.domain.errors import Forbidden, InvalidInput
from service.schemas.check import CheckBatch, SingleCheck

VALUES = st.one_of(
    st.sampled_from(["alice", "amazon-us", "orders", "view", "product/sku-1", "product/",
                     "thing/x", "a,b", "*", "", "A", "x" * 65, "owner"]),
    st.none(), st.booleans(), st.integers(-2, 5), st.floats(allow_nan=False),
    st.lists(st.just("x"), max_size=1),
    st.fixed_dictionaries({}, optional={
        "second_factor": st.one_of(st.booleans(), st.just("yes")), "mfa": st.booleans(),
        # R22, R24: amounts well-formed and hostile, approval ids
        "amount": st.sampled_from(["150.00", "0", "200.01", "1e3", "-1", "NaN", "1" * 40,
                                   "1.005", "", 150, 1.5, None]),
        "approval": st.sampled_from(["a1b2", "", "x,y", None, 7])}),
)
KEYS = st.sampled_from(["tenant", "subject", "store", "object", "action", "context",
                        "at_least_revision", "colour"])
BODIES = st.dictionaries(KEYS, VALUES, max_size=8)


def schema_verdict(schema, body) -> set[str] | None:
    try:
        schema().load(body)
        return None
    except ValidationError as exc:
        return set(exc.messages)


def reader_verdict(read, body) -> set[str] | None:
    try:
        read(body)
        return None
    except InvalidInput as exc:
        return set(exc.errors["json"]) if "json" in exc.errors else set(exc.errors)


@settings(max_examples=400, deadline=None)
@given(body=BODIES)
def test_single_check_reader_matches_schema(body):
    assert reader_verdict(check_input.read_single, body) == \
        schema_verdict(SingleCheck, body)


@settings(max_examples=300, deadline=None)
@given(items=st.lists(BODIES, min_size=1, max_size=3),
       extra=st.dictionaries(st.sampled_from(["at_least_revision", "colour"]), VALUES,
                             max_size=2))
def test_batch_reader_matches_schema(items, extra):
    body = {"checks": items, **extra}
    got = reader_verdict(lambda b: check_input.read_batch(b, 1000), body)
    assert got == schema_verdict(CheckBatch, body)


@pytest.mark.parametrize("path", ["/check", "/check/batch"])
def test_openapi_documents_the_check_bodies(client, path):
    spec = client.get("/openapi.json").get_json()
    body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].split("/")[-1] in spec["components"]["schemas"]


def _forbid_globex(name):
    if name == "globex":
        raise Forbidden("this key may not ask for another tenant")
    return name or "acme"


def batch_verdict(read, body):
    try:
        return ("ok", read(body))
    except (InvalidInput, Forbidden) as exc:
        return (type(exc).__name__, exc.errors if isinstance(exc, InvalidInput) else str(exc))


@settings(max_examples=400, deadline=None)
@given(items=st.lists(st.one_of(BODIES, st.fixed_dictionaries(
           {"subject": st.sampled_from(["alice", "bob", "A"]), "store": st.just("amazon-us"),
            "object": st.sampled_from(["orders", "product/sku-1"]), "action": st.just("view")},
           optional={"tenant": st.sampled_from(["acme", "globex", "a,b"])})),
           min_size=1, max_size=4),
       extra=st.dictionaries(st.sampled_from(["at_least_revision", "colour"]), VALUES,
                             max_size=2))
def test_batch_requests_equal_the_full_reading(items, extra):
    """The one-pass reading of a batch answers exactly what read_batch, the tenant check
    and check_request answer one after the other: the same requests, or the same error."""
    body = {"checks": items, **extra}

    def full(b):
        checks, revision = check_input.read_batch(b, 1000)
        return [tuple(check_input.check_request(_forbid_globex(c.get("tenant")), c))
                for c in checks], revision

    assert batch_verdict(lambda b: check_input.batch_requests(b, 1000, _forbid_globex),
                         body) == batch_verdict(full, body)


def test_remembered_identifiers_stay_bounded(monkeypatch):
    """Names seen are remembered to skip the regular expression; a stream of new names
    must not grow that memory without end, and a bad name is never remembered."""
    monkeypatch.setattr(check_input, "KNOWN_LIMIT", 1_000)
    for n in range(5_000):
        requests, _ = check_input.batch_requests(
            {"checks": [{"subject": f"s{n}", "store": "amazon-us", "object": "orders",
                         "action": "view"}]}, 10, lambda name: "acme")
        assert requests == [("acme", f"s{n}", "amazon-us", "orders", "view", False, "", "",
                             "")]
        assert len(check_input._KNOWN) <= 1_000
    with pytest.raises(InvalidInput):
        check_input.batch_requests({"checks": [{"subject": "Bad,Name", "store": "amazon-us",
                                                "object": "orders", "action": "view"}]},
                                   10, lambda name: "acme")
    assert "Bad,Name" not in check_input._KNOWN
