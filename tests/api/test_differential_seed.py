"""Every /check answer on the seed equals plain pycasbin over policies/model.conf + seed.csv."""

from __future__ import annotations

import itertools

import casbin

from service.domain import catalogue
from service.domain import rules as R

from ..support import ROOT, Caller

MODEL = str(ROOT / "policies" / "model.conf")
SEED = str(ROOT / "policies" / "seed.csv")


def seed_names():
    parsed = R.read_csv((ROOT / "policies" / "seed.csv").read_text())
    subjects, stores = {"owner", "nobody"}, {"no-such-store"}
    for p in parsed:
        if p.rule.ptype == "g2":
            stores.add(p.rule.values[0].split("/")[1])
        for value in p.rule.values:
            if value.startswith("user:"):
                subjects.add(value.split(":")[2])
    return sorted(subjects), sorted(stores)


def test_every_seed_combination_matches_plain_pycasbin(client):
    oracle = casbin.Enforcer(MODEL, SEED)
    subjects, stores = seed_names()
    perms = [(p.area, p.action, "") for p in catalogue.PERMISSIONS] + \
        [("orders", "no-such-action", "")] + \
        [("products", action, product) for action in ("edit", "delete", "view")
         for product in ("sku-1001", "sku-1002", "sku-404")]
    compared = allowed = 0
    for tenant, token in (("acme", "acme-check"), ("globex", "globex-check")):
        from service.config import DEV_TENANT_KEYS

        caller = Caller(client, DEV_TENANT_KEYS[tenant]["check"])
        assert token.startswith(tenant)
        cases = list(itertools.product(subjects, stores, perms, (False, True)))
        for start in range(0, len(cases), 1000):
            chunk = cases[start:start + 1000]
            status, body = caller("POST", "/check/batch", {"checks": [
                {"subject": s, "store": st, "object": f"product/{item}" if item else a,
                 "action": act, "context": {"second_factor": mfa}}
                for s, st, (a, act, item), mfa in chunk]})
            assert status == 200, body
            for (s, st, (a, act, item), mfa), result in zip(chunk, body["results"],
                                                             strict=True):
                expected = oracle.enforce(R.user(tenant, s), R.store(tenant, st), a, act,
                                          "passed" if mfa else "", item, "", "")
                assert result["allowed"] == expected, (tenant, s, st, a, act, item, mfa)
                compared += 1
                allowed += expected
    # The seed must exercise both answers, or the comparison proves little.
    assert compared > 8000 and 500 < allowed < compared - 500
