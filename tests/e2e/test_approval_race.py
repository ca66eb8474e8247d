"""One approved request used at once on two instances (two gunicorn masters, two workers
each, one PostgreSQL database): exactly one use is allowed, the others are denied
`approval_used`, and the ledger holds one use (R24). The first step goes wrong here if a
use were decided from a worker's memory without the write that spends it."""

from __future__ import annotations

import threading

import pytest
import requests

from harness.servers import Instance

from ..support import ACME_CHECK, ACME_OWNER, bearer

pytestmark = [pytest.mark.postgres]


def _call(url: str, method: str, path: str, token: str, body: dict | None = None) -> dict:
    answer = requests.request(method, url + path, json=body, headers=bearer(token), timeout=10)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def test_two_instances_racing_for_one_approval_allow_it_once(pg_url):
    instances = [Instance(pg_url, workers=2) for _ in range(2)]
    try:
        url = instances[0].url
        roles = _call(url, "GET", "/v1/tenants/acme/roles", ACME_OWNER)["roles"]
        held = next(r["permissions"] for r in roles if r["role"] == "customer-service")
        _call(url, "PUT", "/v1/tenants/acme/roles/customer-service", ACME_OWNER,
              {"permissions": held + ["refunds:approve"],
               "limits": {"refunds:approve": "200.00"}})
        _call(url, "PUT", "/v1/tenants/acme/subaccounts/bob/stores", ACME_OWNER,
              {"stores": ["shopee-sg", "amazon-us"]})
        _call(url, "PUT", "/v1/tenants/acme/approval-modes/refunds:approve", ACME_OWNER,
              {"mode": "over_limit"})
        filed = _call(url, "POST", "/v1/tenants/acme/approvals", ACME_CHECK, {
            "subject": "bob", "store": "amazon-us", "permission": "refunds:approve",
            "amount": "300.00"})
        _call(url, "POST", f"/v1/tenants/acme/approvals/{filed['id']}/decision", ACME_OWNER,
              {"approve": True})
        use = {"subject": "bob", "store": "amazon-us", "object": "refunds", "action": "approve",
               "context": {"amount": "300.00", "approval": filed["id"]}}
        # every worker has the tenant loaded and the approval applied before the race (at
        # the decision's revision: a busy machine's follower may not have read it yet)
        decided = _call(url, "GET", "/v1/tenants/acme/policy", ACME_OWNER)["revision"]
        for instance in instances:
            for _ in range(4):
                explained = _call(instance.url, "POST", "/explain", ACME_CHECK,
                                  {**use, "at_least_revision": decided})
                assert explained["allowed"] is True, explained
        answers: list[dict] = []
        start = threading.Barrier(8)

        def racer(instance: Instance) -> None:
            start.wait()
            answers.append(_call(instance.url, "POST", "/check", ACME_CHECK, use))

        threads = [threading.Thread(target=racer, args=(instances[i % 2],)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(answers) == 8
        assert sorted(a["reason"] for a in answers) == ["approval_used"] * 7 + ["granted"]
        entries = _call(url, "GET", "/v1/tenants/acme/ledger?per_page=500", ACME_OWNER)["entries"]
        assert [e["reason"] for e in entries].count(f"approval {filed['id']} used") == 1
        state = _call(instances[1].url, "GET", f"/v1/tenants/acme/approvals/{filed['id']}",
                      ACME_OWNER)["state"]
        assert state == "used"
    finally:
        for instance in instances:
            instance.stop()
