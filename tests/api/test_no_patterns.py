"""No value a caller sends is ever read as a pattern or wildcard (issue 8)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.domain import rules as R
from service.domain.errors import InvalidInput

from ..support import ACME_CHECK, ACME_OWNER, ROOT, bearer

PATTERN_CALLS = re.compile(r"\b(keyMatch\d?|keyGet\d?|regexMatch|globMatch|ipMatch)"
                           r"\(([^,()]+), ([^()]+)\)")


def test_no_request_value_is_ever_a_pattern():
    # The model matches the owner's app rules by keyMatch(r.obj, p.obj) and tells an app's
    # area by regexMatch(r.obj, "^[^.]*[.]"): the pattern is a policy value the grammar
    # allows a '*' in only as the owner's `<app>.*`, or a constant; never a caller's value.
    matcher = next(line for line in (ROOT / "policies" / "model.conf").read_text()
                   .splitlines() if line.startswith("m = "))
    calls = PATTERN_CALLS.findall(matcher)
    assert calls == [("keyMatch", "r.obj", "p.obj"), ("regexMatch", "r.obj", '"^[^.]*[.]"')]
    assert "Match" not in PATTERN_CALLS.sub("", matcher)
    with pytest.raises(InvalidInput):  # '*' in an area: only the owner's app rule
        R.parse(R.Rule("p", ("user:acme:alice", "acme/amazon-us", "shop.*", "*", "allow")))
    for path in Path(ROOT / "service").rglob("*.py"):
        text = path.read_text()
        assert "matching_func" not in text and "domain_matching" not in text, path


@pytest.mark.parametrize("value", ["*", ".*", "a*", "(a|b)", "[a-z]+", "a?", "a{1,3}", "\\d"])
def test_wildcards_are_refused_as_names_everywhere(client, value):
    check = {"subject": value, "store": "amazon-us", "object": "orders", "action": "view"}
    for field in ("subject", "store", "object", "action"):
        response = client.post("/check", json={**check, "subject": "alice", field: value},
                               headers=bearer(ACME_CHECK))
        assert response.status_code == 422, (field, value)
        assert field in response.get_json()["errors"]["json"]
    response = client.post("/v1/tenants/acme/subaccounts", headers=bearer(ACME_OWNER), json={
        "login": value, "display_name": "x", "email": "x@example.com", "stores": ["amazon-us"]})
    assert response.status_code == 422
    with pytest.raises(InvalidInput):
        R.parse(R.Rule("p", (f"user:acme:{value}", "acme/amazon-us", "orders", "view",
                             "allow")))


def test_the_owners_wildcard_rule_cannot_be_reached_by_a_star_request(checker):
    # The owner's rule is the only "*" in any policy; asking for "*" is not a way in.
    status, body = checker("POST", "/check", {"subject": "alice", "store": "amazon-us",
                                              "object": "*", "action": "*"})
    assert status == 422
    assert checker.check("alice", "amazon-us", "finance", "withdraw") is False


def test_the_identifier_check_is_linear_on_hostile_input():
    # A backtracking pattern would take exponential time on these; ours is one pass.
    import time

    for text in ("a" * 64 + "!", "a." * 5000 + "!", "-" * 100_000):
        start = time.perf_counter()
        assert not R.IDENTIFIER.fullmatch(text)
        assert time.perf_counter() - start < 0.05
