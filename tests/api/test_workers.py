"""Several workers on one database: a change made through one is seen by every other."""

from __future__ import annotations

import pytest

from service.storage.models import db

from ..support import ACME_CHECK, ACME_OWNER, Caller, make_app

pytestmark = pytest.mark.storage  # run on both databases (tests/conftest.py)


def test_a_change_through_one_instance_is_seen_by_another(app, database_url):
    other = make_app(database_url)
    a_owner = Caller(app.test_client(), ACME_OWNER)
    b_check = Caller(other.test_client(), ACME_CHECK)
    a_check = Caller(app.test_client(), ACME_CHECK)
    try:
        assert b_check.check("frank", "amazon-us", "refunds", "approve") is False
        status, body = a_owner("POST", "/v1/tenants/acme/permissions", {
            "subject": "frank", "store": "amazon-us", "permission": "refunds:approve"})
        assert status == 200
        granted = body["revision"]
        status, answer = b_check("POST", "/check", {"subject": "frank", "store": "amazon-us",
                                                    "object": "refunds", "action": "approve"})
        assert answer == {"allowed": True, "reason": "granted", "requires": None,
                          "revision": granted}
        # and the revoke, the change that matters most, the other way round
        b_owner = Caller(other.test_client(), ACME_OWNER)
        status, body = b_owner("POST", "/v1/tenants/acme/permissions/revoke", {
            "subject": "frank", "store": "amazon-us", "permission": "refunds:approve"})
        assert status == 200 and body["revision"] == granted + 1
        assert a_check.check("frank", "amazon-us", "refunds", "approve") is False
        assert b_check.check("frank", "amazon-us", "refunds", "approve") is False
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def test_new_tenant_keys_work_on_every_instance(app, database_url, admin):
    other = make_app(database_url)
    status, body = admin("POST", "/v1/tenants", {"tenant": "initech"})
    assert status == 201
    assert Caller(other.test_client(), body["check_key"]).check(
        "owner", "nowhere", "orders", "view") is False  # authenticated: 200, and no store yet
    with other.app_context():
        db.session.remove()
        db.engine.dispose()
