"""Issue 26's domain findings, in memory: a grant withdrawn at its end and then swept does not
make another grant of the same limit stop counting (2); when several things deny, the
reason is the first of one order, the README's, over every pair of causes (9)."""

from __future__ import annotations

import itertools

import pytest

from service.domain import reasons as W
from service.domain.explain import explain
from service.domain.index import TenantIndex
from service.domain.rules import Rule

from .test_index_differential import oracle_for

STORE, USER = "acme/s1", "user:acme:u"


def _rule(line: str) -> Rule:
    ptype, *values = [v.strip() for v in line.split(",")]
    return Rule(ptype, tuple(values))


def test_a_swept_end_leaves_another_grant_of_the_same_limit_counting():
    limited = "p, user:acme:{}, acme/s1, orders, cancel<=000000000050.00, allow"
    rules = [_rule(line) for line in (
        "g2, acme/s1, acme", "g, user:acme:a, acme/s1", "g, user:acme:b, acme/s1",
        limited.format("a"), limited.format("b"))]
    index = TenantIndex("acme", rules)
    ended = _rule(limited.format("a"))
    index.remove(ended)  # withdrawn at its end, on this worker
    index.remove(ended)  # then the sweep's revision removes it again
    fresh = TenantIndex("acme", [r for r in rules if r != ended])
    for who in ("a", "b"):
        asked = (f"user:acme:{who}", STORE, "orders", "cancel", False, "", "000000000010.00")
        assert index.answer(*asked) == fresh.answer(*asked)
    assert index.answer("user:acme:b", STORE, "orders", "cancel", False, "",
                        "000000000010.00") == W.GRANTED
    assert index.limits == fresh.limits


# Each cause of a deny, as the rules that make it (the subject asks products:edit in s1).
ORDER = (W.EXPLICIT_DENY, W.DISABLED, W.NOT_ASSIGNED, W.NOT_PRODUCT_OPERATOR, W.NO_GRANT,
         W.STEP_UP_REQUIRED)
CAUSES = {
    # (a department's deny: the subject's own causes must not hide it)
    W.EXPLICIT_DENY: ["p, dept:acme:d, acme/s1, products, edit, deny"],
    W.DISABLED: ["p, user:acme:u, acme, *, *, deny"],
    W.NOT_PRODUCT_OPERATOR: ["p, by-product, acme/s1, products, edit, deny"],
    W.STEP_UP_REQUIRED: ["p, step-up, acme, products, edit, deny"],
}


@pytest.mark.parametrize(("first", "second"), list(itertools.combinations(ORDER, 2)))
def test_the_reason_is_the_first_cause_in_one_order(first, second):
    causes = {first, second}
    lines = ["g2, acme/s1, acme", "g, user:acme:u, dept:acme:d"]
    if W.NOT_ASSIGNED not in causes:
        lines.append("g, user:acme:u, acme/s1")
    if W.NO_GRANT not in causes:
        lines.append("p, user:acme:u, acme/s1, products, edit, allow")
    for cause in causes:
        lines += CAUSES.get(cause, [])
    rules = [_rule(line) for line in lines]
    index = TenantIndex("acme", rules)
    product = "p1" if W.NOT_PRODUCT_OPERATOR in causes else ""
    asked = (USER, STORE, "products", "edit", False, product)
    assert index.answer(*asked) == first, lines
    assert explain(index, "acme", "u", "s1", "products", "edit", False, product).reason \
        == first
    enforcer = oracle_for(rules)
    assert enforcer.enforce(USER, STORE, "products", "edit", "", product, "", "") is False
