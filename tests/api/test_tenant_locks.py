"""A write locks only its tenant (issue 18): sellers who have nothing to do with each other
no longer queue behind each other, and one tenant's writes still commit in order."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from service.storage.models import db
from service.storage.notifier import libpq_dsn

from ..support import ACME_OWNER, GLOBEX_OWNER, bearer, make_app

pytestmark = pytest.mark.postgres


def test_a_write_waits_for_its_own_tenant_only(pg_url):
    app = make_app(pg_url)
    client = app.test_client()
    with psycopg.connect(libpq_dsn(pg_url)) as holder:
        # another writer of globex, in the middle of its transaction
        holder.execute("SELECT revision FROM tenant_head WHERE tenant = 'globex' FOR UPDATE")
        started = time.monotonic()
        acme = client.post("/v1/tenants/acme/stores", json={"store": "while-locked"},
                           headers=bearer(ACME_OWNER))
        assert acme.status_code == 201, acme.get_data()
        assert time.monotonic() - started < 5
        done: list = []

        def globex_write() -> None:
            with app.app_context():
                second = app.test_client().post(
                    "/v1/tenants/globex/stores", json={"store": "after-unlock"},
                    headers=bearer(GLOBEX_OWNER))
                done.append((time.monotonic(), second.status_code,
                             second.get_json()["revision"]))

        thread = threading.Thread(target=globex_write)
        thread.start()
        time.sleep(1.0)
        assert done == []  # globex's write waits for globex's lock
        released = time.monotonic()
        holder.rollback()
        thread.join(timeout=10)
    (finished, status, revision), = done
    assert status == 201 and finished >= released
    assert revision == 2  # globex's own numbering: the seed was its revision 1
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
