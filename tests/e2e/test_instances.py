"""Several instances behind HAProxy, tenant-affine, one of them killed (issue 18, part 5).

Three gunicorn instances share one PostgreSQL database behind HAProxy (deploy/haproxy.cfg:
consistent hashing on /v1/tenants/<tenant>, health checks on /ready). Checks run for two
tenants while acme's sub-account alice is disabled and enabled again and again; the
instance serving acme is then killed with SIGKILL. Its tenants are served by the others,
every answer equals what the acknowledged writes say, no acknowledged write is lost, no
client sees more than one failed request at the moment of the kill, and the instance gets
its tenants back when it is restarted.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests
from sqlalchemy import create_engine, text

from harness.servers import HAProxy, Instance

from ..support import ACME_CHECK, ACME_OWNER, GLOBEX_CHECK, bearer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ALICE = {"subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"}
GLOBEX = {"subject": "owner", "store": "amazon-us", "object": "orders", "action": "view"}


def _served_by(proxy: HAProxy, tenant: str, token: str, body: dict) -> str:
    answer = requests.post(f"{proxy.url}/v1/tenants/{tenant}/check", json=body,
                           headers=bearer(token), timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.headers["X-Served-By"]


def test_an_instance_killed_under_load_loses_nothing_and_rejoins(pg_url):
    instances = [Instance(pg_url, workers=1) for _ in range(3)]
    proxy = HAProxy(instances, workers=1)
    stop = threading.Event()
    failures: dict[str, int] = {}
    wrong: list = []
    try:
        owner_of = {f"app{i}": inst for i, inst in enumerate(instances, start=1)}
        home = _served_by(proxy, "acme", ACME_CHECK, ALICE)
        assert _served_by(proxy, "acme", ACME_CHECK, ALICE) == home  # affine

        def globex_checks(name: str) -> None:
            """Load on another tenant, whose policy never changes here."""
            with requests.Session() as session:
                while not stop.is_set():
                    try:
                        answer = session.post(f"{proxy.url}/v1/tenants/globex/check",
                                              json=GLOBEX, headers=bearer(GLOBEX_CHECK),
                                              timeout=5)
                        if answer.status_code != 200:
                            failures[name] = failures.get(name, 0) + 1
                        elif answer.json()["allowed"] is not True:
                            wrong.append(("globex", answer.text))
                    except requests.RequestException:
                        failures[name] = failures.get(name, 0) + 1

        threads = [threading.Thread(target=globex_checks, args=(f"globex-{i}",), daemon=True)
                   for i in range(2)]
        for thread in threads:
            thread.start()
        acknowledged: list[tuple[int, bool]] = []  # (revision, disabled)
        with requests.Session() as session:
            def write(disabled: bool) -> None:
                """Set alice's status; a write that got no answer is sent again (it is
                idempotent) until one acknowledges it."""
                for _ in range(20):
                    try:
                        answer = session.put(
                            f"{proxy.url}/v1/tenants/acme/subaccounts/alice/status",
                            json={"disabled": disabled}, headers=bearer(ACME_OWNER),
                            timeout=5)
                        if answer.status_code == 200:
                            acknowledged.append((answer.json()["revision"], disabled))
                            return
                    except requests.RequestException:
                        pass
                    failures["writer"] = failures.get("writer", 0) + 1
                    time.sleep(0.1)
                raise AssertionError("a write was never acknowledged")

            def check_as_written() -> None:
                revision, disabled = acknowledged[-1]
                for _ in range(20):
                    try:
                        answer = session.post(f"{proxy.url}/v1/tenants/acme/check",
                                              json={**ALICE, "at_least_revision": revision},
                                              headers=bearer(ACME_CHECK), timeout=5)
                    except requests.RequestException:
                        failures["checker"] = failures.get("checker", 0) + 1
                        continue
                    if answer.status_code == 200:
                        if answer.json()["allowed"] is disabled:
                            wrong.append(("acme", revision, disabled, answer.text))
                        return
                    failures["checker"] = failures.get("checker", 0) + 1
                raise AssertionError("a check was never answered")

            killed_at = None
            started = time.monotonic()
            step = 0
            while time.monotonic() - started < 8:
                write(step % 2 == 0)
                check_as_written()
                step += 1
                if killed_at is None and time.monotonic() - started > 2:
                    owner_of[home].kill()
                    killed_at = time.monotonic()
            assert killed_at is not None and step > 10
            after = _served_by(proxy, "acme", ACME_CHECK, ALICE)
            assert after != home  # the others serve acme now
            owner_of[home].start()  # the same port: it rejoins
            deadline = time.monotonic() + 15
            while _served_by(proxy, "acme", ACME_CHECK, ALICE) != home:
                assert time.monotonic() < deadline, "the restarted instance never rejoined"
                time.sleep(0.2)
            write(False)
            check_as_written()
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        assert not wrong, wrong[:5]
        assert all(count <= 1 for count in failures.values()), failures
        engine = create_engine(pg_url)
        with engine.connect() as connection:
            logged = set(connection.execute(text("SELECT revision FROM revision_log"))
                         .scalars())
            status = connection.execute(text(
                "SELECT count(*) FROM policy_rule WHERE tenant = 'acme' AND "
                "v0 = 'user:acme:alice' AND v2 = '*'")).scalar_one()
        engine.dispose()
        assert {r for r, _ in acknowledged} <= logged  # no acknowledged write lost
        assert status == 0  # the last acknowledged write left alice enabled
    finally:
        stop.set()
        proxy.stop()
        for instance in instances:
            try:
                instance.stop()
            except Exception:  # noqa: BLE001 - the killed one may be gone already
                pass
