"""Tenant isolation: random worlds built through the API, 100,000+ random checks, and every
answer equal to the plain-Python reference model (tests/reference_model.py).

Logins and store names are drawn from one small pool for every tenant, so the same name
lives in several tenants; checks ask with every tenant's key about every tenant's names,
unknown names, disabled accounts and stores of other tenants.
"""

from __future__ import annotations

import os
import random
from decimal import Decimal

import pytest

from service.domain import catalogue

from ..reference_model import OWNER, Reference, Tenant
from ..support import ADMIN, bearer, make_app

LOGINS = ["ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal", "ivy"]
STORES = ["amazon-us", "tmall", "shopee-sg", "ebay-de", "etsy"]
DEPARTMENTS = ["care", "finance", "ops"]
BUILTIN = ["customer-service", "operator", "finance", "warehouse", "designer", "store-manager"]
# An app (R21) some tenants install: its permissions are granted and asked like the rest.
APP = "leadgen"
APP_CATALOGUE = {"permissions": [
    {"name": "leads:view", "description": {"en": "See leads", "zh-CN": "查看线索"}},
    {"name": "leads:export", "high_risk": True,
     "description": {"en": "Export leads", "zh-CN": "导出线索"}}]}
APP_PERMS = ["leadgen.leads:view", "leadgen.leads:export"]
GRANTABLE = [p.name for p in catalogue.PERMISSIONS if not p.owner_only]
EVERY = [p.name for p in catalogue.PERMISSIONS] + APP_PERMS
HIGH_RISK = {p.name for p in catalogue.PERMISSIONS if p.high_risk} | {"leadgen.leads:export"}
CHECKS_PER_WORLD = int(os.environ.get("AUTHZ_FUZZ_CHECKS", "50000"))  # make fuzz: more
MONEY = [p.name for p in catalogue.PERMISSIONS if p.amount]  # R22
LIMITS = ["0.01", "80", "200.00", "200.01", "1000"]
AMOUNTS = [None, "0", "0.01", "79.99", "80", "80.01", "200", "200.01", "200.02", "999.99",
           "1000", "1000.01", "999999999999.99"]


class World:
    """Tenants made through the API and, change by change, in the reference model."""

    def __init__(self, client, rng: random.Random, prefix: str, roles: dict[str, set[str]]):
        self.client, self.rng = client, rng
        self.model = Reference(HIGH_RISK)
        self.check_keys: dict[str, str] = {}
        self.builtin_roles = roles
        status = client.post("/v1/apps", json={"app": APP, "name": {"en": "Leads",
                                                                    "zh-CN": "线索"}},
                             headers=bearer(ADMIN))
        assert status.status_code == 201, status.get_json()
        published = client.put(f"/v1/apps/{APP}/catalogue", json=APP_CATALOGUE,
                               headers=bearer(status.get_json()["token"]))
        assert published.status_code == 200, published.get_json()
        for n in range(3):
            self._tenant(f"{prefix}-{n}")

    def call(self, method: str, path: str, body: dict, token: str, ok=(200, 201)) -> bool:
        response = self.client.open(path, method=method, json=body, headers=bearer(token))
        assert response.status_code in ok + (404, 409), (path, body, response.get_json())
        return response.status_code in ok

    def _who(self, t: Tenant) -> tuple[tuple[str, str], dict]:
        if self.rng.random() < 0.3:
            dept = self.rng.choice(DEPARTMENTS)
            return ("dept", dept), {"department": dept}
        login = self.rng.choice(sorted(t.accounts))
        return ("user", login), {"subject": login}

    def _tenant(self, name: str) -> None:
        rng, model = self.rng, self.model
        status = self.client.post("/v1/tenants", json={"tenant": name}, headers=bearer(ADMIN))
        assert status.status_code == 201
        created = status.get_json()
        owner, self.check_keys[name] = created["owner_key"], created["check_key"]
        t = model.tenants[name] = Tenant(roles={r: set(p) for r, p in
                                                self.builtin_roles.items()})
        base = f"/v1/tenants/{name}"
        for store in rng.sample(STORES, rng.randint(2, 4)):
            assert self.call("POST", f"{base}/stores", {"store": store}, owner)
            t.stores.add(store)
        grantable = GRANTABLE
        if rng.random() < 0.6:
            assert self.call("PUT", f"{base}/apps/{APP}", {}, owner)
            t.apps.add(APP)
            grantable = GRANTABLE + APP_PERMS * 4  # (asked about often enough)
        for n in range(rng.randint(1, 3)):
            perms = set(rng.sample(grantable, rng.randint(2, 8)))
            perms |= set(rng.sample(MONEY, rng.randint(0, 2)))
            limits = {p: rng.choice(LIMITS) for p in perms if p in MONEY
                      and rng.random() < 0.7}
            assert self.call("POST", f"{base}/roles", {"role": f"custom-{n}",
                                                       "permissions": sorted(perms),
                                                       "limits": limits}, owner)
            t.roles[f"custom-{n}"] = perms
            t.role_limits[f"custom-{n}"] = {p: Decimal(v) for p, v in limits.items()}
        if rng.random() < 0.3:
            perm = rng.choice(MONEY)
            assert self.call("PUT", f"{base}/approval-modes/{perm}", {"mode": "always"}, owner)
            t.always_approved.add(perm)
        if rng.random() < 0.4:
            assert self.call("PATCH", f"{base}/settings", {"step_up": True}, owner)
            t.step_up = True
        for dept in DEPARTMENTS:
            assert self.call("POST", f"{base}/departments", {"department": dept}, owner)
        stores = sorted(t.stores)
        for login in rng.sample(LOGINS, rng.randint(4, 8)):
            mine = rng.sample(stores, rng.randint(1, len(stores)))
            depts = rng.sample(DEPARTMENTS, rng.randint(0, 2))
            assert self.call("POST", f"{base}/subaccounts", {
                "login": login, "display_name": login, "email": f"{login}@{name}.example.com",
                "stores": mine, "departments": depts}, owner)
            t.accounts.add(login)
            t.assigned |= {(login, s) for s in mine}
            t.members[login] = set(depts)
        roles = sorted(t.roles)
        for _ in range(rng.randint(3, 8)):
            who, body = self._who(t)
            role = rng.choice(roles)
            where = "all" if rng.random() < 0.4 else rng.sample(stores, rng.randint(1, 2))
            if self.call("POST", f"{base}/grants", {**body, "role": role, "stores": where},
                         owner):
                t.grants |= ({(who, role, None)} if where == "all"
                             else {(who, role, s) for s in where})
        for _ in range(rng.randint(1, 6)):
            who, body = self._who(t)
            store, perm = rng.choice(stores), rng.choice(grantable + MONEY * 3)
            limit = rng.choice(LIMITS) if perm in MONEY and rng.random() < 0.7 else None
            if self.call("POST", f"{base}/permissions",
                         {**body, "store": store, "permission": perm,
                          **({"limit": limit} if limit else {})}, owner):
                t.allows.add((who, store, perm))  # (given again: replaced, limit and all)
                if limit is None:
                    t.allow_limits.pop((who, store, perm), None)
                else:
                    t.allow_limits[(who, store, perm)] = Decimal(limit)
        for _ in range(rng.randint(1, 4)):
            who, body = self._who(t)
            store = "all" if rng.random() < 0.3 else rng.choice(stores)
            perm = rng.choice([p for p in EVERY if "." not in p or APP in t.apps])
            if self.call("POST", f"{base}/denies",
                         {**body, "store": store, "permission": perm}, owner):
                t.denies.add((who, None if store == "all" else store, perm))
        for login in rng.sample(sorted(t.accounts), rng.randint(0, 2)):
            assert self.call("PUT", f"{base}/subaccounts/{login}/status",
                             {"disabled": True}, owner)
            t.disabled.add(login)
        # Later edits, applied incrementally to every worker's index.
        for who, role, where in rng.sample(sorted(t.grants, key=repr), min(2, len(t.grants))):
            body = {"subject": who[1]} if who[0] == "user" else {"department": who[1]}
            if self.call("POST", f"{base}/grants/revoke",
                         {**body, "role": role, "stores": "all" if where is None else [where]},
                         owner):
                t.grants.discard((who, role, where))
        login = rng.choice(sorted(t.accounts))
        mine = rng.sample(stores, rng.randint(1, len(stores)))
        assert self.call("PUT", f"{base}/subaccounts/{login}/stores", {"stores": mine}, owner)
        t.assigned = {(u, s) for u, s in t.assigned if u != login} | {(login, s) for s in mine}

    def random_check(self) -> tuple[str, dict]:
        """(tenant whose key asks, check body)."""
        rng = self.rng
        tenant = rng.choice(sorted(self.model.tenants))
        perm = rng.choice(EVERY + APP_PERMS * 3 + MONEY * 4)
        area, action = perm.split(":")
        if area == catalogue.PRODUCT_AREA and rng.random() < 0.3:
            area = f"product/sku-{rng.randint(1, 3)}"
        subject = rng.choice(LOGINS + [OWNER, "ghost", "nobody-at-all"])
        store = rng.choice(STORES + ["nowhere"])
        body = {"subject": subject, "store": store, "object": area, "action": action}
        if rng.random() < 0.5:
            body["context"] = {"second_factor": rng.random() < 0.5}
        amount = rng.choice(AMOUNTS) if perm in MONEY else None
        if amount is not None:
            body["context"] = {**body.get("context", {}), "amount": amount}
        return tenant, body

    def expected(self, tenant: str, body: dict) -> bool:
        area = body["object"]
        area = catalogue.PRODUCT_AREA if area.startswith("product/") else area
        context = body.get("context", {})
        amount = context.get("amount")
        return self.model.decide(tenant, body["subject"], body["store"],
                                 f"{area}:{body['action']}",
                                 context.get("second_factor", False),
                                 Decimal(amount) if amount is not None else None)


def _ask_batches(client, world: World, count: int) -> int:
    """Ask `count` random checks in batches, by each tenant's check key or the admin key;
    returns the number of mismatches."""
    mismatches = 0
    for _ in range(count // 1000):
        tenant = world.rng.choice(sorted(world.check_keys))
        as_admin = world.rng.random() < 0.2
        checks = []
        for _ in range(1000):
            _, body = world.random_check()
            checks.append({**body, "tenant": tenant} if as_admin else body)
        token = ADMIN if as_admin else world.check_keys[tenant]
        response = client.post("/check/batch", json={"checks": checks}, headers=bearer(token))
        assert response.status_code == 200, response.get_json()
        results = response.get_json()["results"]
        mismatches += sum(r["allowed"] != world.expected(tenant, c)
                          for r, c in zip(results, checks, strict=True))
    return mismatches


@pytest.mark.parametrize("seed", [1, 2])
def test_random_worlds_match_the_reference_model(blank_app, database_url, seed):
    from service.domain.accounts import BUILTIN_ROLES

    client = blank_app.test_client()
    world = World(client, random.Random(seed), f"w{seed}",
                  {r: set(p) for r, p in BUILTIN_ROLES.items()})
    mismatches = _ask_batches(client, world, CHECKS_PER_WORLD)
    singles = []
    for _ in range(500):
        tenant, body = world.random_check()
        response = client.post("/check", json=body, headers=bearer(world.check_keys[tenant]))
        assert response.status_code == 200
        singles.append(response.get_json()["allowed"] == world.expected(tenant, body))
    assert mismatches == 0 and all(singles)
    # A worker starting now loads the same state from the database.
    reloaded = make_app(database_url)
    assert _ask_batches(reloaded.test_client(), world, 10_000) == 0
    with reloaded.app_context():
        from service.storage.models import db

        db.engine.dispose()


def test_a_tenant_key_never_reaches_another_tenant(blank_app):
    from service.domain.accounts import BUILTIN_ROLES

    client = blank_app.test_client()
    world = World(client, random.Random(7), "iso", {r: set(p) for r, p in BUILTIN_ROLES.items()})
    names = sorted(world.check_keys)
    for asking in names:
        for other in names:
            if other == asking:
                continue
            body = {"tenant": other, "subject": OWNER, "store": sorted(
                world.model.tenants[other].stores)[0], "object": "orders", "action": "view"}
            response = client.post("/check", json=body,
                                   headers=bearer(world.check_keys[asking]))
            assert response.status_code == 403
            response = client.post("/check/batch", json={"checks": [body]},
                                   headers=bearer(world.check_keys[asking]))
            assert response.status_code == 403
