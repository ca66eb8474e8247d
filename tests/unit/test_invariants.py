"""An import is accepted exactly when the API could have produced the same policy (issue 16).

"The API could have produced it" is made concrete here, independently of invariants.py:
replay the file through the domain operations the API calls, in a canonical order
(stores, roles, sub-accounts, departments, memberships, grants, supplementary grants and
denies, disabling, step-up, by-product stores, product operators), and see whether every
call succeeds and the result is exactly the file. Random files, mostly valid and then
perturbed, must be accepted by the import's checks (lint + the invariants every write is
held to) if and only if that replay reproduces them.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.domain import catalogue, invariants
from service.domain import policy_admin as A
from service.domain import policy_files as PF
from service.domain import rules as R
from service.domain import subaccounts as S
from service.domain.accounts import Directory
from service.domain.errors import ServiceError
from service.domain.rules import Kind, Rule
from service.domain.tenant_policy import TenantPolicy

T = "shop"
OWNER = f"user:{T}:owner"
STORES = ("s1", "s2", "all", "ghost")
USERS = ("u1", "u2")
PERMS = (("orders", "view"), ("products", "edit"), ("products", "delete"),
         ("refunds", "approve"), ("staff", "manage"))
BASE = [Rule("p", (OWNER, T, "*", "*", "allow")), Rule("g2", (f"{T}/s1", T)),
        Rule("g", (OWNER, f"{T}/s1"))]


def _rules(kind: str, user: str, store: str, perm: tuple[str, str], role: str, effect: str
           ) -> list[Rule]:
    """One API-sized step (a store with its owner, step-up whole, a store run by product
    whole) or a single rule; dropping rules later makes the near misses."""
    u, d, s = f"user:{T}:{user}", f"dept:{T}:d1", f"{T}/{store}"
    scope = T if store == "all" else s
    return {
        "store": [Rule("g2", (s, T)), Rule("g", (OWNER, s))],
        "bare-store": [Rule("g2", (s, T))],
        "assign": [Rule("g", (u, s))],
        "member": [Rule("g", (u, d))],
        "role": [Rule("p", (f"role:{T}:{role}", T, *perm, "allow"))],
        "grant": [Rule("g", (u, f"role:{T}:{role}@{scope}"))],
        "dept-grant": [Rule("g", (d, f"role:{T}:{role}@{scope}"))],
        "direct": [Rule("p", (u, scope, *perm, effect))],
        "disabled": [Rule("p", (u, T, "*", "*", "deny"))],
        "step-up": [Rule("p", ("step-up", T, p.area, p.action, "deny"))
                    for p in catalogue.BUILT_IN.high_risk()],
        "by-product": [Rule("p", ("by-product", s, p.area, p.action, "deny"))
                       for p in catalogue.BUILT_IN.per_product()]
        + [Rule("g", (OWNER, f"{s}~products"))],
        "operator": [Rule("g", (u, f"{s}~product/p1"))],
    }[kind]


rule_choice = st.builds(
    _rules, st.sampled_from(["store", "store", "bare-store", "assign", "assign", "member",
                             "role", "role", "grant", "grant", "dept-grant", "direct",
                             "direct", "disabled", "step-up", "by-product", "operator"]),
    st.sampled_from(USERS), st.sampled_from(("s1", "s1", "s2", "s2", "all", "ghost")),
    st.sampled_from(PERMS), st.sampled_from(("r1", "r1", "r2")),
    st.sampled_from(("allow", "deny")))


def _valid(rule: Rule) -> bool:
    try:
        R.parse(rule)
        return True
    except ServiceError:
        return False


def accepted(rules: set[Rule]) -> bool:
    """What an import into an empty tenant answers: lint errors, then the invariants."""
    text = R.csv_text(rules)
    try:
        wanted = PF.read_for_import(text, T)
        policy = TenantPolicy(T, (), Directory())
        S.replace_rules(policy, wanted)
        invariants.require(policy, Directory())
        return True
    except ServiceError:
        return False


def reachable(rules: set[Rule]) -> bool:
    """Whether the API's own operations, replayed from nothing, produce exactly `rules`."""
    p = TenantPolicy(T, (), Directory())
    of = {k: [r for r in rules if R.classify(r) is k] for k in Kind}
    name = lambda value: value.split(":", 2)[2]  # noqa: E731
    store_of = lambda value: value.split("/", 1)[1]  # noqa: E731
    try:
        A.create_tenant(p)  # every tenant starts with the owner's rule (R3)
        for r in of[Kind.STORE]:
            A.create_store(p, store_of(r.values[0]))
        roles: dict[str, list[str]] = {}
        for r in of[Kind.ROLE_PERMISSION]:
            roles.setdefault(name(r.values[0]), []).append(f"{r.values[2]}:{r.values[3]}")
        for role, perms in sorted(roles.items()):
            A.create_role(p, role, perms)
        users = sorted({name(v) for r in rules for v in r.values[:1]
                        if v.startswith(f"user:{T}:") and v != OWNER})
        for user in users:
            stores = sorted(store_of(r.values[1]) for r in of[Kind.ASSIGNMENT]
                            if r.values[0] == f"user:{T}:{user}")
            if stores:
                S.create_sub_account(p, user, stores)
            else:  # a sub-account with no store: created in one that is then revoked
                A.create_store(p, "replay-tmp")
                S.create_sub_account(p, user, ["replay-tmp"])
                S.revoke_store(p, "replay-tmp")
                A.set_disabled(p, user, False)
        if any(v.startswith(f"dept:{T}:") for r in rules for v in r.values):
            S.create_department(p, "d1")
        for r in of[Kind.MEMBERSHIP]:
            A.add_member(p, "d1", name(r.values[0]))
        for r in of[Kind.GRANT]:
            kind = "user" if r.values[0].startswith("user:") else "dept"
            role_value, _, scope = r.values[1].partition("@")
            A.grant_role(p, A.Grantee(kind, name(r.values[0])), name(role_value),
                         "all" if scope == T else [store_of(scope)])
        for r in of[Kind.DIRECT]:
            kind = "user" if r.values[0].startswith("user:") else "dept"
            A.add_direct(p, A.Grantee(kind, name(r.values[0])),
                         "all" if r.values[1] == T else store_of(r.values[1]),
                         f"{r.values[2]}:{r.values[3]}", r.values[4])
        for r in of[Kind.DISABLED]:
            A.set_disabled(p, name(r.values[0]), True)
        if of[Kind.STEP_UP]:
            S.set_step_up(p, True)
        for store in sorted({store_of(r.values[1]) for r in of[Kind.BY_PRODUCT]}):
            S.set_store_mode(p, store, "by-product")
        for r in of[Kind.PRODUCT_OPERATOR]:
            store, _, item = r.values[1].partition("~")
            S.add_product_operator(p, store_of(store), item.split("/", 1)[1],
                                   name(r.values[0]))
    except ServiceError:
        return False
    return set(p.rules()) == rules


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(added=st.lists(rule_choice, max_size=12), dropped=st.sets(st.integers(0, 40),
                                                                  max_size=2))
def test_an_import_is_accepted_exactly_when_the_api_could_have_produced_it(added, dropped):
    rules = [r for r in BASE + [r for step in added for r in step] if _valid(r)]
    rules = {r for i, r in enumerate(rules) if i not in dropped}
    assert accepted(rules) == reachable(rules), R.csv_text(rules)


def test_the_replay_is_no_rubber_stamp():
    """Both sides of the property are reached: it would catch either kind of mismatch."""
    good = set(BASE) | {Rule("g", (f"user:{T}:u1", f"{T}/s1"))}
    assert accepted(good) and reachable(good)
    for bad in (Rule("g", (f"user:{T}:u1", f"{T}/ghost")),
                Rule("g", (f"user:{T}:u1", f"role:{T}:phantom@{T}")),
                Rule("g2", (f"{T}/all", T))):
        assert not accepted(good | {bad}) and not reachable(good | {bad})
