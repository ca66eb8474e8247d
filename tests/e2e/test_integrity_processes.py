"""Issue 26 through real gunicorn workers on PostgreSQL: the end of a grant is part of the
decision on every worker, whenever it loaded the tenant and whether or not the database
answers (finding 1); an end does not make another grant stop counting (finding 2); a
stalled database does not stall /check of held tenants (finding 6); only a check key
spends an approval (7); a batch over tenants under a budget answers each that exists (8).

Time is the test's: every worker reads the clock offset from AUTHZ_TEST_CLOCK's file."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import create_engine, text

from harness.servers import Instance, Proxy

from ..api.test_approvals import ok, setup_limits
from ..support import ACME_AUDIT, ACME_CHECK, ACME_OWNER, ADMIN, bearer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _grant(base: str, body: dict) -> int:
    answer = requests.post(base + "/v1/tenants/acme/permissions", json=body,
                           headers=bearer(ACME_OWNER), timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["revision"]


def _answers(base: str, n: int, subject: str, obj: str, action: str, **context) -> set:
    """The reasons n checks got (two workers answer them in turn)."""
    seen = set()
    with requests.Session() as session:
        for _ in range(n):
            answer = session.post(base + "/check", headers=bearer(ACME_CHECK), timeout=10,
                                  json={"subject": subject, "store": "amazon-us",
                                        "object": obj, "action": action,
                                        **({"context": context} if context else {})})
            assert answer.status_code == 200, answer.text
            seen.add(answer.json()["reason"])
    return seen


def test_an_end_denies_on_every_worker_with_or_without_the_database(pg_url, tmp_path):
    clock = tmp_path / "clock"
    clock.write_text("0")
    proxy = Proxy()
    service = Instance(pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"),
                       AUTHZ_TEST_CLOCK=clock)
    try:
        start = time.time()

        def at(seconds: float) -> str:
            return datetime.fromtimestamp(start + seconds, UTC).isoformat()

        # alice's cancel up to 50.00 ends in an hour; frank holds the same limit for good
        _grant(service.url, {"subject": "alice", "store": "amazon-us",
                             "permission": "orders:cancel", "limit": "50.00",
                             "expires_at": at(3600)})
        _grant(service.url, {"subject": "frank", "store": "amazon-us",
                             "permission": "orders:cancel", "limit": "50.00"})
        _grant(service.url, {"subject": "alice", "store": "amazon-us",
                             "permission": "reports:export", "expires_at": at(7200)})
        # both workers load acme now, after the grants were written
        assert _answers(service.url, 20, "alice", "orders", "cancel",
                        amount="10.00") == {"granted"}
        clock.write_text("4000")  # past alice's first end, on every worker at once
        assert _answers(service.url, 40, "alice", "orders", "cancel",
                        amount="10.00") == {"no_grant"}
        assert _answers(service.url, 20, "frank", "orders", "cancel",
                        amount="10.00") == {"granted"}
        # the sweep tidies the rule; frank's grant of the same limit still counts (2)
        deadline = time.monotonic() + 15
        while True:
            ledger = requests.get(service.url + "/v1/tenants/acme/ledger?actor=system:expiry",
                                  headers=bearer(ACME_OWNER), timeout=10).json()
            if ledger["total"] >= 1:
                break
            assert time.monotonic() < deadline, "no sweep"
            _answers(service.url, 2, "alice", "orders", "cancel", amount="10.00")
            time.sleep(0.2)
        time.sleep(1.5)  # every worker has applied the sweep's revision
        assert _answers(service.url, 40, "frank", "orders", "cancel",
                        amount="10.00") == {"granted"}
        # the database goes away; the next end still denies on both workers
        assert _answers(service.url, 10, "alice", "reports", "export") == {"granted"}
        proxy.down()
        clock.write_text("8000")
        assert _answers(service.url, 20, "alice", "reports", "export") == {"no_grant"}
        assert _answers(service.url, 10, "frank", "orders", "cancel",
                        amount="10.00") == {"granted"}
    finally:
        service.stop()
        proxy.down()


def test_a_stalled_database_leaves_checks_of_held_tenants_as_fast(pg_url):
    # one worker, so that the warm-up surely loads acme in it (a worker that never held
    # it would rightly need the database, and deny when it cannot have it)
    service = Instance(pg_url, workers=1, AUTHZ_SYNC_INTERVAL=0.2)
    engine = create_engine(pg_url)
    try:
        with requests.Session() as session:
            def check() -> tuple[float, float]:
                began = time.perf_counter()
                answer = session.post(service.url + "/check", headers=bearer(ACME_CHECK),
                                      timeout=30, json={"subject": "alice",
                                                        "store": "amazon-us",
                                                        "object": "orders",
                                                        "action": "view"})
                assert answer.status_code == 200 and answer.json()["allowed"] is True
                return time.perf_counter() - began, float(answer.headers["X-Policy-Age"])

            for _ in range(20):
                check()
            with engine.connect() as locker:
                # a held table lock: every read of the heads waits for it (not an outage)
                locker.execute(text("LOCK TABLE tenant_head IN ACCESS EXCLUSIVE MODE"))
                seen = []
                until = time.monotonic() + 4
                while time.monotonic() < until:
                    seen.append(check())
                    time.sleep(0.02)
                locker.rollback()
        slowest = max(took for took, _ in seen)
        assert slowest < 1.0, f"a check took {slowest:.2f} s while the database stalled"
        assert max(age for _, age in seen) > 2.0  # X-Policy-Age grew instead
    finally:
        engine.dispose()
        service.stop()


class _Http:
    """tests.support.Caller's shape, over HTTP to a running instance."""

    def __init__(self, base: str, token: str):
        self.base, self.token = base, token

    def __call__(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        answer = requests.request(method, self.base + path, json=body, timeout=30,
                                  headers=bearer(self.token))
        return answer.status_code, answer.json()


def test_only_a_check_key_spends_an_approval_on_either_worker(pg_url):
    """Finding 7 through two gunicorn workers: the audit key's use is a 403 that spends
    nothing; the storefront's own use is then allowed, once."""
    service = Instance(pg_url)
    try:
        owner, checker = _Http(service.url, ACME_OWNER), _Http(service.url, ACME_CHECK)
        auditor = _Http(service.url, ACME_AUDIT)
        setup_limits(owner)
        ok(owner("PUT", "/v1/tenants/acme/approval-modes/refunds:approve",
                 {"mode": "over_limit"}))
        request = ok(checker("POST", "/v1/tenants/acme/approvals", {
            "subject": "bob", "store": "amazon-us", "permission": "refunds:approve",
            "amount": "250.00"}))
        ok(owner("POST", f"/v1/tenants/acme/approvals/{request['id']}/decision",
                 {"approve": True}))
        use = {"subject": "bob", "store": "amazon-us", "object": "refunds",
               "action": "approve", "context": {"amount": "250.00",
                                                "approval": request["id"]}}
        for _ in range(4):  # (both workers are asked)
            status, body = auditor("POST", "/check", use)
            assert status == 403, body
        reasons = [checker("POST", "/check", use)[1]["reason"] for _ in range(4)]
        assert reasons == ["granted"] + ["approval_used"] * 3, reasons
    finally:
        service.stop()


def test_a_batch_over_tenants_under_a_budget_answers_each_that_exists(pg_url):
    """Finding 8 through two gunicorn workers whose budget holds about no tenant."""
    service = Instance(pg_url, AUTHZ_TENANT_CACHE_MB=0.01)
    try:
        admin = _Http(service.url, ADMIN)
        item = {"subject": "alice", "store": "amazon-us", "object": "orders",
                "action": "view"}
        batch = {"checks": [{**item, "tenant": "acme"}, {**item, "tenant": "globex"},
                            {**item, "tenant": "acme", "object": "products"},
                            {**item, "tenant": "globex", "object": "products"},
                            {**item, "tenant": "nobody"}]}
        for _ in range(6):
            status, body = admin("POST", "/check/batch", batch)
            assert status == 200, body
            reasons = [r["reason"] for r in body["results"]]
            assert reasons.count("unknown_tenant") == 1 and reasons[-1] == "unknown_tenant"
            assert reasons[0] == "granted", reasons  # alice views acme's orders
            assert body["revisions"]["acme"] >= 1 and body["revisions"]["globex"] >= 1
    finally:
        service.stop()
