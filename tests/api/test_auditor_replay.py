"""R20: an auditor replays decisions with stock pycasbin from nothing but the export
(policies/model.conf + export.csv) and gets the service's answers."""

from __future__ import annotations

import random

import casbin

from service.domain import amounts
from service.domain.accounts import BUILTIN_ROLES
from service.domain.decider import SECOND_FACTOR_PASSED

from ..support import ADMIN, ROOT, bearer
from .test_isolation import World


def test_replaying_random_decisions_from_the_export(blank_app, tmp_path):
    client = blank_app.test_client()
    world = World(client, random.Random(11), "aud", {r: set(p) for r, p in BUILTIN_ROLES.items()})
    compared = 0
    for tenant in sorted(world.model.tenants):
        exported = client.get(f"/v1/tenants/{tenant}/export.csv", headers=bearer(ADMIN)).data
        path = tmp_path / f"{tenant}.csv"
        path.write_bytes(exported)
        auditor = casbin.Enforcer(str(ROOT / "policies" / "model.conf"), str(path))
        checks = [world.random_check()[1] for _ in range(600)]
        answers = client.post("/check/batch", headers=bearer(ADMIN), json={
            "checks": [{**c, "tenant": tenant} for c in checks]}).get_json()["results"]
        for check, answer in zip(checks, answers, strict=True):
            area, _, product = check["object"].partition("/")
            mfa = check.get("context", {}).get("second_factor", False)
            amount = check.get("context", {}).get("amount")  # (R22: at the model's width)
            replayed = auditor.enforce(f"user:{tenant}:{check['subject']}",
                                       f"{tenant}/{check['store']}",
                                       "products" if product else area, check["action"],
                                       SECOND_FACTOR_PASSED if mfa else "", product,
                                       amounts.parse(amount) if amount is not None else "", "")
            if "." in area and f"g2, app:{area.split('.')[0]}, {tenant}" not in exported.decode():
                replayed = False  # the one rule above the model: an app not installed (R21)
            assert replayed == answer["allowed"], (tenant, check)
            compared += 1
    assert compared == 1800
