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
    catalogue.Permission("quantum.budget", "spend", "Spend ad budget", app=APP, amount=True),
)
CATALOGUE = catalogue.Catalogue({APP: APP_PERMISSIONS})
APP_PERMS = [(p.area, p.action) for p in APP_PERMISSIONS]
APP_PER_PRODUCT = [(p.area, p.action) for p in APP_PERMISSIONS if p.per_product]
PRODUCT_AREAS = {area for area, _ in PER_PRODUCT + APP_PER_PRODUCT}
# R22: permissions that move money, the limits grants carry, and the amounts checks ask
# about - the edges on purpose: equal to a limit, a cent over, zero, the largest.
MONEY = [(p.area, p.action) for p in CATALOGUE.permissions if p.amount]
LIMITS = ["000000000100.00", "000000000200.00", "000000000200.01", "000000001000.00"]
AMOUNTS = ["", "000000000000.00", "000000000099.99", "000000000100.00", "000000000150.00",
           "000000000200.00", "000000000200.01", "000000000200.02", "000000001000.00",
           "000000001000.01", "999999999999.99"]


@dataclass
class RandomTenant:
    tenant: str
    rules: list[Rule]
    logins: list[str]
    stores: list[str]  # including one the tenant does not have
    products: list[str]
    approvals: list[str] = ()  # approval:<t>:<id> values, granted or not


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
        out.add(R.owner_app(tenant, APP))
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
    money = [m for m in MONEY if installed or "." not in m[0]]
    for r in roles:  # R22: limited role permissions
        for area, action in rng.sample(money, rng.randint(0, 2)):
            out.add(Rule("p", (R.role(tenant, r), tenant, area,
                               f"{action}<={rng.choice(LIMITS)}", "allow")))
    for who in principals:  # R22: limited supplementary grants
        if rng.random() < 0.3:
            area, action = rng.choice(money)
            out.add(Rule("p", (who, rng.choice(scopes), area,
                               f"{action}<={rng.choice(LIMITS)}", "allow")))
    for area, action in money:  # R24: approval modes
        mode = rng.random()
        if mode < 0.25:
            out.add(Rule("p", (R.APPROVAL_ALWAYS, tenant, area, action, "deny")))
        elif mode < 0.5:
            out.add(Rule("p", (R.APPROVAL_OVER_LIMIT, tenant, area, action, "deny")))
    approvals = [R.approval(tenant, f"a{i}") for i in range(3)]
    for value in approvals[:rng.randint(0, 2)]:  # R24: approved requests (the last: never)
        area, action = rng.choice(money + PERMS[:3])
        where = dom[rng.choice(stores + [ghost])]
        if rng.random() < 0.3:
            where = R.product(where, rng.choice(products))
        if (area, action) in money and rng.random() < 0.8:
            action = f"{action}<={rng.choice(LIMITS)}"
        out.add(Rule("p", (value, where, area, action, "allow")))
        if rng.random() < 0.9:
            out.add(Rule("g2", (value, rng.choice(users))))
    rules = sorted(out)
    for rule in rules:
        R.parse(rule, known=CATALOGUE)  # every generated rule is one the service could hold
    return RandomTenant(tenant, rules, logins + ["owner", "stranger"], stores + [ghost],
                        products, approvals)


def random_requests(rng: random.Random, t: RandomTenant, n: int):
    """(user, store domain, area, action, second factor, product, amount, approval) in the
    model's terms: amounts at the model's width (or ""), approval:<t>:<id> (or "")."""
    perms = PERMS + APP_PERMS + [("orders", "nothing")] + MONEY * 3
    owners = {r.values[0]: r.values[1] for r in t.rules
              if r.ptype == "g2" and r.values[0].startswith(R.APPROVAL_PREFIX)}
    approved = [r.values for r in t.rules if r.ptype == "p"
                and r.values[0].startswith(R.APPROVAL_PREFIX)]
    for _ in range(n):
        if approved and rng.random() < 0.1:  # close to an approved request, or exactly it
            value, where, area, act = rng.choice(approved)[:4]
            action, _, limit = act.partition("<=")
            store, _, item = where.partition("~")
            yield (owners.get(value, R.user(t.tenant, rng.choice(t.logins))), store, area,
                   action, rng.random() < 0.5, item.partition("/")[2],
                   rng.choice([limit, limit, ""] + AMOUNTS) if limit else "", value)
            continue
        area, action = rng.choice(perms)
        product = rng.choice(["", ""] + t.products) if area in PRODUCT_AREAS else ""
        amount = rng.choice(AMOUNTS) if (area, action) in MONEY or rng.random() < 0.05 else ""
        approval = rng.choice(t.approvals) if t.approvals and rng.random() < 0.2 else ""
        yield (R.user(t.tenant, rng.choice(t.logins)), R.store(t.tenant, rng.choice(t.stores)),
               area, action, rng.random() < 0.5, product, amount, approval)
