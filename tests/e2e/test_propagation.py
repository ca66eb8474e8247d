"""Every worker, every instance, the same answer: real gunicorn processes on one PostgreSQL.

Bounded versions of the measurements in bench/propagation.py.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
import requests
from sqlalchemy import create_engine, func, select, text

from harness.servers import Instance, Proxy
from service.storage.models import LedgerEntry, PolicyRule

from ..support import ACME_CHECK, ACME_OWNER, ADMIN, GLOBEX_CHECK, PG_ADMIN_URL

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CHECK = {"Authorization": f"Bearer {ACME_CHECK}"}
OWNER = {"Authorization": f"Bearer {ACME_OWNER}"}
REFUND = {"subject": "frank", "store": "amazon-us", "permission": "refunds:approve"}


def check(base: str, subject="frank", obj="refunds", action="approve", **extra):
    response = requests.post(base + "/check", headers=CHECK, timeout=10, json={
        "subject": subject, "store": "amazon-us", "object": obj, "action": action, **extra})
    assert response.status_code == 200, response.text
    return response.json()["allowed"], int(response.headers["X-Policy-Revision"])


def write(base: str, path: str, body: dict) -> int:
    response = requests.post(base + "/v1/tenants/acme" + path, headers=OWNER, json=body,
                             timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["revision"]


def visible_after(base: str, want: bool, deadline: float = 5.0) -> float:
    """Seconds until a check on `base` answers `want`."""
    start = time.perf_counter()
    while check(base)[0] != want:
        assert time.perf_counter() - start < deadline, "change never became visible"
    return time.perf_counter() - start


def test_a_revoke_reaches_every_worker_of_both_instances(pg_url):
    # A long poll interval: what is measured is the notification path alone.
    a = Instance(pg_url, AUTHZ_SYNC_INTERVAL=60)
    b = Instance(pg_url, AUTHZ_SYNC_INTERVAL=60)
    try:
        within, across = [], []
        for _ in range(25):
            write(a.url, "/permissions", REFUND)
            visible_after(b.url, True)
            write(a.url, "/permissions/revoke", REFUND)
            within.append(visible_after(a.url, False))
            across.append(visible_after(b.url, False))
        # then no worker of either instance still allows it (20 draws over 2 workers each)
        for instance in (a, b):
            assert not any(check(instance.url)[0] for _ in range(20))
        within.sort()
        across.sort()
        assert within[-1] < 0.5 and across[-1] < 1.0, (within[-3:], across[-3:])
    finally:
        a.stop()
        b.stop()


def test_consistency_token_answers_at_the_written_revision(pg_url):
    a = Instance(pg_url, AUTHZ_SYNC_INTERVAL=60, AUTHZ_LISTEN="false")
    b = Instance(pg_url, workers=1, AUTHZ_SYNC_INTERVAL=60, AUTHZ_LISTEN="false")
    try:
        check(b.url)  # b loads its policy now; with no listener and no poll it stays there
        revision = write(a.url, "/permissions", REFUND)
        assert check(b.url) == (False, revision - 1)  # stale without a token...
        assert check(b.url, at_least_revision=revision) == (True, revision)  # ...not with
        response = requests.post(b.url + "/check", headers=CHECK, timeout=10, json={
            "subject": "frank", "store": "amazon-us", "object": "refunds",
            "action": "approve", "at_least_revision": revision + 1000})
        assert response.status_code == 409 and "at_least_revision" in response.json()["errors"]
    finally:
        a.stop()
        b.stop()


def test_no_worker_shows_the_new_grant_while_the_old_one_stands(pg_url):
    """Revoke X, then grant Y: a batch (one revision) never has Y allowed with X allowed."""
    a = Instance(pg_url)
    b = Instance(pg_url)
    x = {"subject": "frank", "store": "amazon-us", "object": "finance", "action": "view"}
    y = {"subject": "frank", "store": "amazon-us", "object": "refunds", "action": "approve"}
    x_rule = {"subject": "frank", "store": "amazon-us", "permission": "finance:view"}
    seen: list[tuple[bool, bool]] = []
    stop = threading.Event()

    def watch(base: str) -> None:
        with requests.Session() as session:
            while not stop.is_set():
                body = session.post(base + "/check/batch", headers=CHECK,
                                    json={"checks": [x, y]}, timeout=10).json()
                seen.append(tuple(r["allowed"] for r in body["results"]))

    watchers = [threading.Thread(target=watch, args=(i.url,)) for i in (a, b, a, b)]
    try:
        for t in watchers:
            t.start()
        for _ in range(15):
            write(a.url, "/permissions", x_rule)
            write(b.url, "/permissions/revoke", x_rule)  # revoke X ...
            write(a.url, "/permissions", REFUND)  # ... then grant Y
            write(b.url, "/permissions/revoke", REFUND)
    finally:
        stop.set()
        for t in watchers:
            t.join()
        a.stop()
        b.stop()
    assert (True, True) not in seen
    assert (True, False) in seen and (False, True) in seen  # both states were observed


def test_killing_the_listeners_during_writes_still_converges(pg_url):
    a = Instance(pg_url, AUTHZ_SYNC_INTERVAL=1)
    b = Instance(pg_url, AUTHZ_SYNC_INTERVAL=1)
    killer = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    database = pg_url.rsplit("/", 1)[1]
    try:
        check(a.url)
        check(b.url)
        last = 0
        for i in range(30):
            last = write(random.choice((a, b)).url,
                         "/permissions" if i % 2 == 0 else "/permissions/revoke", REFUND)
            with killer.connect() as conn:
                conn.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'authz-listener' AND datname = :db"),
                    {"db": database})
        time.sleep(1.2)  # the poll interval, and a little
        for instance in (a, b):
            for _ in range(10):
                assert check(instance.url) == (False, last)  # 30 writes: the last revoked
    finally:
        killer.dispose()
        a.stop()
        b.stop()


def test_database_outage_keeps_checks_answering_and_loses_no_write(pg_url):
    proxy = Proxy()
    proxied = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    a = Instance(proxied, AUTHZ_SYNC_INTERVAL=0.2)
    canary = {"subject": "grace", "store": "amazon-us", "object": "finance",
              "action": "withdraw"}
    statuses: list[int] = []
    canary_allowed: list[bool] = []
    acknowledged: list[str] = []
    stop = threading.Event()

    def checker() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                r = session.post(a.url + "/check", headers=CHECK, json=canary, timeout=10)
                statuses.append(r.status_code)
                canary_allowed.append(r.json().get("allowed"))

    def writer() -> None:
        with requests.Session() as session:
            n = 0
            while not stop.is_set():
                store = f"outage-{n}"
                n += 1
                r = session.post(a.url + "/v1/tenants/acme/stores", headers=OWNER,
                                 json={"store": store}, timeout=10)
                statuses.append(r.status_code)
                if r.status_code == 201:
                    acknowledged.append(store)

    threads = [threading.Thread(target=checker) for _ in range(4)] + \
        [threading.Thread(target=writer)]
    try:
        # Both workers hold acme before the outage (the canary below may reach either; the
        # checkers' kept-alive connections may all be one worker's): fresh connections
        # until each worker has answered one.
        holding: set[int] = set()
        for _ in range(200):
            requests.post(a.url + "/check", headers=CHECK, json=canary, timeout=10)
            health = requests.get(a.url + "/health", timeout=10).json()
            if health["tenants_held"]:
                holding.add(health["pid"])
            if len(holding) == 2:
                break
        assert len(holding) == 2, holding
        for t in threads:
            t.start()
        time.sleep(1)
        proxy.down()
        time.sleep(2)
        outage = requests.post(a.url + "/check", headers=CHECK, json=canary, timeout=10)
        assert outage.status_code == 200 and outage.json()["allowed"] is False
        assert float(outage.headers["X-Policy-Age"]) > 0.5  # it says how old its state is
        # globex was never needed here, so it is not held: denied, saying why, never
        # guessed (its owner is allowed this; the admin's key needs no database look-up)
        cold = requests.post(a.url + "/check", headers={"Authorization": f"Bearer {ADMIN}"},
                             json={"tenant": "globex", "subject": "owner",
                                   "store": "amazon-us", "object": "orders",
                                   "action": "view"}, timeout=10)
        assert cold.status_code == 200, cold.text
        assert cold.json()["allowed"] is False
        assert cold.json()["reason"] == "tenant_unavailable"
        assert cold.headers["X-Authz-Denied"] == "tenant_unavailable"
        unseen_key = requests.post(a.url + "/check", headers={
            "Authorization": f"Bearer {GLOBEX_CHECK}"}, json={
            "subject": "owner", "store": "amazon-us", "object": "orders", "action": "view"},
            timeout=10)
        assert unseen_key.status_code == 200 and unseen_key.json()["allowed"] is False
        assert unseen_key.headers["X-Authz-Denied"] == "tenant_unavailable"
        refused = requests.post(a.url + "/v1/tenants/acme/stores", headers=OWNER,
                                json={"store": "during-outage"}, timeout=10)
        assert refused.status_code == 503
        proxy.up()
        time.sleep(2)
    finally:
        stop.set()
        for t in threads:
            t.join()
        a.stop()
        proxy.down()
    assert not [s for s in statuses if s >= 500 and s != 503]
    assert not any(canary_allowed)
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        stored = set(conn.execute(select(PolicyRule.v0).where(
            PolicyRule.ptype == "g2", PolicyRule.v0.like("acme/outage-%"))).scalars())
    engine.dispose()
    assert {f"acme/{s}" for s in acknowledged} <= stored  # no acknowledged write lost
    assert "acme/during-outage" not in stored


def test_sigkill_of_workers_during_writes_leaves_no_revoked_grant_alive(pg_url):
    a = Instance(pg_url, workers=3)
    b = Instance(pg_url)
    stop = threading.Event()
    done: list[int] = []

    def writer() -> None:
        i = 0
        with requests.Session() as session:
            while not stop.is_set():
                path = "/permissions" if i % 2 == 0 else "/permissions/revoke"
                try:
                    r = session.post(a.url + "/v1/tenants/acme" + path, headers=OWNER,
                                     json=REFUND, timeout=10)
                except requests.RequestException:
                    continue  # the worker died under us: the write may or may not be in
                if r.status_code == 200:
                    i += 1
                    done.append(i)

    thread = threading.Thread(target=writer)
    try:
        thread.start()
        for _ in range(8):
            time.sleep(0.3)
            pids = a.worker_pids()
            if pids:
                a.kill_worker(random.choice(pids))
        stop.set()
        thread.join()
        # make the final state a revoke, whatever the last acknowledged write was
        requests.post(a.url + "/v1/tenants/acme/permissions", headers=OWNER, json=REFUND,
                      timeout=10)
        final = write(b.url, "/permissions/revoke", REFUND)
        a.wait_ready()
        for instance in (a, b):
            for _ in range(15):
                allowed, revision = check(instance.url, at_least_revision=final)
                assert allowed is False and revision >= final
    finally:
        stop.set()
        a.stop()
        b.stop()
    assert done, "no write was acknowledged"


def test_soak_canary_never_allowed_and_every_acknowledged_write_is_logged(pg_url):
    a = Instance(pg_url)
    b = Instance(pg_url)
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        rows_before = conn.execute(select(func.count()).select_from(PolicyRule)).scalar_one()
        log_before = conn.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
    canary = {"subject": "canary", "store": "amazon-us", "object": "orders", "action": "view"}
    stop = threading.Event()
    acks: list[int] = []
    errors: list[str] = []
    canary_seen: list[bool] = []

    def writer(n: int) -> None:
        login = f"soak-{n}"
        base = (a, b)[n % 2].url
        with requests.Session() as session:
            r = session.post(base + "/v1/tenants/acme/subaccounts", headers=OWNER, json={
                "login": login, "display_name": login, "email": f"{login}@x.test",
                "stores": ["amazon-us"]}, timeout=10)
            if r.status_code != 201:
                errors.append(r.text)
                return
            acks.append(1)
            for perm in ["orders:view", "orders:ship", "refunds:view", "chat:reply",
                         "reports:view", "coupons:view", "prices:view", "logistics:view"]:
                if stop.is_set():
                    return
                r = session.post(base + "/v1/tenants/acme/permissions", headers=OWNER,
                                 json={"subject": login, "store": "amazon-us",
                                       "permission": perm}, timeout=10)
                if r.status_code == 200:
                    acks.append(1)
                else:
                    errors.append(r.text)

    def checker(n: int) -> None:
        base = (a, b)[n % 2].url
        with requests.Session() as session:
            while not stop.is_set():
                r = session.post(base + "/check", headers=CHECK, json=canary, timeout=10)
                if r.status_code != 200:
                    errors.append(r.text)
                canary_seen.append(r.json()["allowed"])

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    checkers = [threading.Thread(target=checker, args=(n,)) for n in range(32)]
    try:
        for t in checkers + writers:
            t.start()
        for t in writers:
            t.join(timeout=90)
        stop.set()
        for t in checkers:
            t.join()
    finally:
        stop.set()
        a.stop()
        b.stop()
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(PolicyRule)).scalar_one()
        logged = conn.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
    engine.dispose()
    assert not errors, errors[:3]
    assert len(acks) == 8 * 9
    # each sub-account: one assignment row + 8 grants = 9 rows and 9 log entries
    assert rows - rows_before == len(acks) and logged - log_before == len(acks)
    assert canary_seen and not any(canary_seen)
