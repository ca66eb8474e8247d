"""Random and scaled policies made of the rule shapes the service writes.

Used by the differential tests (tests/unit/test_index_differential.py) and the benchmark.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from service.domain import catalogue
from service.domain import rules as R
from service.domain.rules import Rule

PERMS = [(p.area, p.action) for p in catalogue.PERMISSIONS if not p.owner_only]
HIGH_RISK = [(p.area, p.action) for p in catalogue.PERMISSIONS if p.high_risk and not p.owner_only]
PER_PRODUCT = [(p.area, p.action) for p in catalogue.PERMISSIONS if p.per_product]
# An app's permissions (R21), held like built-in ones by the tenants that install it.
APP = "quantum"
APP_PERMISSIONS = (
    catalogue.Permission("quantum.traffic", "view", "See traffic", app=APP),
    catalogue.Permission("quantum.campaigns", "edit", "Edit campaigns", high_risk=True, app=APP),
    catalogue.Permission("quantum.listings", "boost", "Boost a listing", per_product=True,
                         app=APP),
)
CATALOGUE = catalogue.Catalogue({APP: APP_PERMISSIONS})
APP_PERMS = [(p.area, p.action) for p in APP_PERMISSIONS]
APP_PER_PRODUCT = [(p.area, p.action) for p in APP_PERMISSIONS if p.per_product]
PRODUCT_AREAS = {area for area, _ in PER_PRODUCT + APP_PER_PRODUCT}


@dataclass
class RandomTenant:
    tenant: str
    rules: list[Rule]
    logins: list[str]
    stores: list[str]  # including one the tenant does not have
    products: list[str]


def random_tenant(rng: random.Random, tenant: str = "t1") -> RandomTenant:
    """A small tenant exercising every rule shape, with odd corners on purpose: rules that
    name a store that is not (or no longer) the tenant's, disabled department members,
    denies that shadow nothing."""
    stores = [f"s{i}" for i in range(rng.randint(1, 4))]
    ghost = "gone"  # rules may still name it; it has no g2 row
    logins = [f"u{i}" for i in range(rng.randint(1, 7))]
    depts = [f"d{i}" for i in range(rng.randint(0, 3))]
    roles = [f"r{i}" for i in range(rng.randint(1, 4))]
    perms = rng.sample(PERMS, 8) + rng.sample(HIGH_RISK, 2) + PER_PRODUCT
    installed = rng.random() < 0.6
    if installed:
        perms += APP_PERMS
    products = ["p1", "p2"]
    owner = R.owner(tenant)
    dom = {s: R.store(tenant, s) for s in stores + [ghost]}
    scopes = [tenant] + list(dom.values())
    users = [R.user(tenant, x) for x in logins]
    principals = users + [R.department(tenant, d) for d in depts]
    out: set[Rule] = {Rule("p", (owner, tenant, R.ANY, R.ANY, "allow"))}
    if installed:
        out.add(Rule("g2", (R.installed(APP), tenant)))
    for s in stores:
        out.add(Rule("g2", (dom[s], tenant)))
        if rng.random() < 0.9:
            out.add(Rule("g", (owner, dom[s])))
    for u in users:
        for s in rng.sample(stores + [ghost], rng.randint(0, len(stores))):
            out.add(Rule("g", (u, dom[s])))
        for d in depts:
            if rng.random() < 0.4:
                out.add(Rule("g", (u, R.department(tenant, d))))
        if rng.random() < 0.15:
            out.add(Rule("p", (u, tenant, R.ANY, R.ANY, "deny")))
    for r in roles:
        for area, action in rng.sample(perms, rng.randint(1, 6)):
            out.add(Rule("p", (R.role(tenant, r), tenant, area, action, "allow")))
    for who in principals:
        for _ in range(rng.randint(0, 3)):
            out.add(Rule("g", (who, R.scoped_role(R.role(tenant, rng.choice(roles)),
                                                  rng.choice(scopes)))))
        for _ in range(rng.randint(0, 2)):
            area, action = rng.choice(perms)
            out.add(Rule("p", (who, rng.choice(scopes), area, action,
                               rng.choice(["allow", "deny"]))))
    if rng.random() < 0.4:
        for area, action in rng.sample(HIGH_RISK, 2):
            out.add(Rule("p", (R.STEP_UP, tenant, area, action, "deny")))
    for s in stores:
        if rng.random() < 0.5:
            for area, action in PER_PRODUCT + (APP_PER_PRODUCT if installed else []):
                out.add(Rule("p", (R.BY_PRODUCT, dom[s], area, action, "deny")))
            out.add(Rule("g", (owner, R.all_products(dom[s]))))
            for u in users:
                if rng.random() < 0.5:
                    out.add(Rule("g", (u, R.product(dom[s], rng.choice(products)))))
    rules = sorted(out)
    for rule in rules:
        R.parse(rule, known=CATALOGUE)  # every generated rule is one the service could hold
    return RandomTenant(tenant, rules, logins + ["owner", "stranger"], stores + [ghost],
                        products)


def random_requests(rng: random.Random, t: RandomTenant, n: int):
    """(user, store domain, area, action, second factor, product) in the model's terms."""
    perms = PERMS + APP_PERMS + [("orders", "nothing")]
    for _ in range(n):
        area, action = rng.choice(perms)
        product = rng.choice(["", ""] + t.products) if area in PRODUCT_AREAS else ""
        yield (R.user(t.tenant, rng.choice(t.logins)), R.store(t.tenant, rng.choice(t.stores)),
               area, action, rng.random() < 0.5, product)
