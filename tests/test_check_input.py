"""The hand-written /check reader agrees with the documented schemas on any input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from service.api import check_input, schemas
from service.domain.errors import InvalidInput

VALUES = st.one_of(
    st.sampled_from(["alice", "amazon-us", "orders", "view", "product/sku-1", "product/",
                     "thing/x", "a,b", "*", "", "A", "x" * 65, "owner"]),
    st.none(), st.booleans(), st.integers(-2, 5), st.floats(allow_nan=False),
    st.lists(st.just("x"), max_size=1),
    st.fixed_dictionaries({}, optional={"second_factor": st.one_of(st.booleans(),
                                                                   st.just("yes")),
                                        "mfa": st.booleans()}),
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
        schema_verdict(schemas.SingleCheck, body)


@settings(max_examples=300, deadline=None)
@given(items=st.lists(BODIES, min_size=1, max_size=3),
       extra=st.dictionaries(st.sampled_from(["at_least_revision", "colour"]), VALUES,
                             max_size=2))
def test_batch_reader_matches_schema(items, extra):
    body = {"checks": items, **extra}
    got = reader_verdict(lambda b: check_input.read_batch(b, 1000), body)
    assert got == schema_verdict(schemas.CheckBatch, body)


@pytest.mark.parametrize("path", ["/check", "/check/batch"])
def test_openapi_documents_the_check_bodies(client, path):
    spec = client.get("/openapi.json").get_json()
    body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].split("/")[-1] in spec["components"]["schemas"]
