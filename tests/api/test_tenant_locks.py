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


def test_two_tenants_racing_for_one_email_cannot_both_have_it(pg_url):
    """R4 across tenants, whose writes no longer exclude each other: the unique index
    settles the race, and the loser gets the same clear 409 as a plain duplicate."""
    app = make_app(pg_url)
    client = app.test_client()
    answers: list = []
    with psycopg.connect(libpq_dsn(pg_url)) as rival:
        # globex's write, uncommitted: acme's check of the email cannot see it yet
        rival.execute("INSERT INTO sub_account (tenant, login, display_name, email, phone, "
                      "note, created_at) VALUES ('globex', 'zed', 'Zed', 'Race@Example.com',"
                      " '', '', now())")

        def acme_write() -> None:
            with app.app_context():
                answer = app.test_client().post(
                    "/v1/tenants/acme/subaccounts", headers=bearer(ACME_OWNER),
                    json={"login": "zoe", "display_name": "Zoe", "email": "race@example.com",
                          "stores": ["amazon-us"]})
                answers.append((answer.status_code, answer.get_json()))

        thread = threading.Thread(target=acme_write)
        thread.start()
        time.sleep(1.0)
        assert answers == []  # waiting on the unique index for globex's transaction
        rival.commit()
        thread.join(timeout=10)
    (status, body), = answers
    assert status == 409 and "email" in body["errors"], body
    listing = client.get("/v1/tenants/acme/subaccounts?q=zoe", headers=bearer(ACME_OWNER))
    assert listing.get_json()["total"] == 0
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
