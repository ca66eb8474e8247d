"""Who-can answers are complete and equal to brute-force /check over every subject, on
random tenants built through the API (departments, denies, disabled accounts, step-up)."""

from __future__ import annotations

import csv
import io
import random

from service.domain import catalogue
from service.domain.accounts import BUILTIN_ROLES

from ..reference_model import OWNER
from ..support import ADMIN, bearer
from .test_isolation import LOGINS, STORES, World

PERMISSIONS = [p.name for p in catalogue.PERMISSIONS]


def _brute_force(client, tenant: str, store: str, permission: str) -> set[str]:
    area, action = permission.split(":")
    subjects = LOGINS + [OWNER, "ghost"]
    checks = [{"tenant": tenant, "subject": s, "store": store, "object": area,
               "action": action, "context": {"second_factor": True}} for s in subjects]
    results = client.post("/check/batch", json={"checks": checks},
                          headers=bearer(ADMIN)).get_json()["results"]
    return {s for s, r in zip(subjects, results, strict=True) if r["allowed"]}


def test_who_can_and_the_matrix_equal_brute_force(blank_app):
    client = blank_app.test_client()
    world = World(client, random.Random(3), "wc", {r: set(p) for r, p in BUILTIN_ROLES.items()})
    rng = random.Random(4)
    compared = 0
    for tenant in sorted(world.model.tenants):
        for store in sorted(world.model.tenants[tenant].stores):
            matrix = client.get(f"/v1/tenants/{tenant}/stores/{store}/matrix",
                                headers=bearer(ADMIN)).get_json()["subjects"]
            for permission in rng.sample(PERMISSIONS, 12):
                expected = _brute_force(client, tenant, store, permission)
                page = client.get(f"/v1/tenants/{tenant}/who-can?permission={permission}"
                                  f"&store={store}&per_page=3", headers=bearer(ADMIN)).get_json()
                found = {item["subject"] for item in page["items"]}
                for number in range(2, (page["total"] + 2) // 3 + 1):  # the other pages
                    more = client.get(f"/v1/tenants/{tenant}/who-can?permission={permission}"
                                      f"&store={store}&per_page=3&page={number}",
                                      headers=bearer(ADMIN)).get_json()
                    found |= {item["subject"] for item in more["items"]}
                assert found == expected and page["total"] == len(expected)
                assert all(item["paths"] for item in page["items"])
                assert {s for s, perms in matrix.items() if permission in perms} == expected
                compared += 1
        for login in sorted(world.model.tenants[tenant].accounts)[:3]:
            permission = rng.choice(PERMISSIONS)
            where = client.get(f"/v1/tenants/{tenant}/subaccounts/{login}/can?permission="
                               f"{permission}", headers=bearer(ADMIN)).get_json()
            expected = {s for s in STORES if login in _brute_force(client, tenant, s, permission)}
            assert {i["store"] for i in where["items"]} == expected
    assert compared >= 50


def test_matrix_csv_matches_json(owner):
    data = owner.client.get("/v1/tenants/acme/stores/amazon-us/matrix.csv",
                            headers=owner.headers).data.decode()
    rows = list(csv.reader(io.StringIO(data)))
    as_json = owner("GET", "/v1/tenants/{t}/stores/amazon-us/matrix")[1]
    assert rows[0] == ["subject", *as_json["permissions"]]
    for row in rows[1:]:
        allowed = {p for p, cell in zip(rows[0][1:], row[1:], strict=True) if cell == "1"}
        assert allowed == set(as_json["subjects"][row[0]])
    assert "owner" in as_json["subjects"] and "alice" in as_json["subjects"]


def test_who_can_refund_in_tmall_and_why(owner):
    status, page = owner("GET", "/v1/tenants/{t}/who-can?permission=refunds:approve"
                                "&store=tmall-flagship")
    assert status == 200
    by_subject = {item["subject"]: item for item in page["items"]}
    assert "owner" in by_subject and by_subject["owner"]["paths"][0]["kind"] == "owner"
    assert owner("GET", "/v1/tenants/{t}/who-can?permission=refunds:fly&store=x")[0] == 422
