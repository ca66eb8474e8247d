"""The rule grammar: only the shapes the model documents are accepted, from any source."""

from __future__ import annotations

import pytest

from service.domain import rules as R
from service.domain.errors import InvalidInput
from service.domain.rules import Kind, Rule

from ..support import ROOT


def test_seed_is_all_valid_rules():
    parsed = R.read_csv((ROOT / "policies" / "seed.csv").read_text())
    kinds = {p.kind for p in parsed}
    assert {Kind.STORE, Kind.ASSIGNMENT, Kind.MEMBERSHIP, Kind.GRANT, Kind.ROLE_PERMISSION,
            Kind.DIRECT, Kind.DISABLED, Kind.OWNER, Kind.BY_PRODUCT, Kind.PRODUCT_OPERATOR,
            Kind.ALL_PRODUCTS} <= kinds
    assert {p.tenant for p in parsed} == {"acme", "globex"}


@pytest.mark.parametrize("line,why", [
    ("g, user:acme:alice, globex/amazon-us", "another tenant"),
    ("g, user:acme:alice, role:acme:operator@globex", "another tenant"),
    ("g, user:acme:alice, role:globex:operator@acme", "this tenant"),
    ("p, user:acme:alice, acme/amazon-us, billing, purchase, allow", "owner-only"),
    ("p, role:acme:x, acme, staff, manage, allow", "owner-only"),
    ("p, user:acme:alice, acme, *, *, allow", "'*' rules"),
    ("p, user:acme:alice, acme/amazon-us, *, view, deny", "'*' appears only"),
    ("p, user:acme:owner, acme/amazon-us, orders, view, deny", "main account"),
    ("g, user:acme:owner, dept:acme:cs", "main account"),
    ("p, role:acme:x, acme, orders, fly, allow", "unknown permission"),
    ("p, step-up, acme, orders, view, deny", "high-risk"),
    ("p, user:acme:a, acme/amazon-us, orders, view, maybe", "effect"),
    ("g2, acme/amazon-us, globex", "tenant named"),
    ("g3, a, b", "unknown rule type"),
    ("p, user:acme:a:b, acme, orders, view, deny", "not one of"),
    ("g, user:acme:Alice, acme/amazon-us", "bad identifier"),
    ("g, user:acme:alice, acme/amazon-us~products", "only the main account"),
    ("g, user:acme:alice, globex/amazon-us~product/x", "another tenant"),
    ("g, user:acme:alice, acme/amazon-us~thing/x", "not <store>~product"),
    ("p, by-product, acme/amazon-us, orders, view, deny", "per-product"),
])
def test_rules_outside_the_grammar_are_refused(line, why):
    with pytest.raises(InvalidInput) as refused:
        R.read_csv(line, "import")
    assert why in refused.value.message and "import:1" in refused.value.message


def test_identifiers_cannot_hold_separators_or_wildcards():
    for value in ("a,b", "a:b", "a/b", "a@b", "*", "a b", "A", "", "-a", "a\n", "x" * 65):
        with pytest.raises(InvalidInput):
            R.identifier(value, "store")
    assert R.identifier("amazon-us.2_b", "store") == "amazon-us.2_b"


def test_csv_round_trip():
    rule = Rule("p", ("role:acme:x", "acme", "orders", "view", "allow"))
    assert R.read_csv(rule.csv())[0].rule == rule


def test_seed_tenant_uses_exactly_the_builtin_role_templates():
    from service.domain.accounts import BUILTIN_ROLES
    from service.domain.tenant_policy import TenantPolicy

    acme = [p.rule for p in R.read_csv((ROOT / "policies" / "seed.csv").read_text())
            if p.tenant == "acme"]
    roles = TenantPolicy("acme", acme).roles()
    assert roles == {name: set(perms) for name, perms in BUILTIN_ROLES.items()}


def test_classify_agrees_with_parse_on_every_shape():
    import random

    from harness.policies import CATALOGUE, random_tenant

    rules = [p.rule for p in R.read_csv((ROOT / "policies" / "seed.csv").read_text())]
    rng = random.Random(3)
    for i in range(30):
        rules += random_tenant(rng, f"t{i}").rules
    assert {R.classify(rule) for rule in rules} == set(Kind)
    for rule in rules:
        assert R.classify(rule) is R.parse(rule, known=CATALOGUE).kind, rule
