"""API keys: stored hashed, scoped, rotated with an overlap, revoked; development keys
refused in production; writes rate-limited per key."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from service import config, create_app
from service.domain import keys
from service.runtime.rate_limit import WriteLimiter
from service.storage.models import ApiKey, db

from ..support import ACME_CHECK, ACME_OWNER, ADMIN, GLOBEX_OWNER, Caller, bearer, make_app

pytestmark = pytest.mark.storage  # run on both databases (tests/conftest.py)

ALICE = {"subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"}


def test_only_hashes_are_stored(app, admin):
    status, created = admin("POST", "/v1/tenants", {"tenant": "initech"})
    assert status == 201
    stored = db.session.execute(select(ApiKey.secret_hash)).scalars().all()
    db.session.rollback()
    for token in (created["owner_key"], created["check_key"], ACME_OWNER):
        assert token not in stored and keys.digest(token) in stored
    status, listed = admin("GET", "/v1/tenants/initech/keys")
    assert status == 200 and len(listed["keys"]) == 2
    assert created["owner_key"] not in str(listed)


def test_rotation_keeps_both_keys_working_during_the_overlap(client, owner):
    listed = owner("GET", "/v1/tenants/{t}/keys")[1]["keys"]
    old_check = next(k["key_id"] for k in listed if k["scope"] == "check")
    status, rotated = owner("POST", "/v1/tenants/{t}/keys",
                            {"scope": "check", "replaces": old_check, "overlap_seconds": 2})
    assert status == 201 and rotated["replaced"]["key_id"] == old_check
    new_check = rotated["token"]
    for token in (ACME_CHECK, new_check):
        assert client.post("/check", json=ALICE, headers=bearer(token)).status_code == 200
    time.sleep(2.1)
    assert client.post("/check", json=ALICE, headers=bearer(ACME_CHECK)).status_code == 401
    assert client.post("/check", json=ALICE, headers=bearer(new_check)).status_code == 200
    after = {k["key_id"]: k for k in owner("GET", "/v1/tenants/{t}/keys")[1]["keys"]}
    assert after[old_check]["active"] is False


def test_revoke_at_once_and_the_last_owner_key_stays(client, owner):
    listed = owner("GET", "/v1/tenants/{t}/keys")[1]["keys"]
    owner_key = next(k["key_id"] for k in listed if k["scope"] == "owner")
    status, body = owner("DELETE", f"/v1/tenants/{{t}}/keys/{owner_key}")
    assert status == 409 and "key_id" in body["errors"]
    status, fresh = owner("POST", "/v1/tenants/{t}/keys", {"scope": "owner",
                                                          "replaces": owner_key,
                                                          "overlap_seconds": 0})
    assert status == 201
    assert client.get("/v1/tenants/acme/keys", headers=bearer(ACME_OWNER)).status_code == 401
    renewed = Caller(client, fresh["token"], "acme")
    check_key = next(k["key_id"] for k in listed if k["scope"] == "check")
    assert renewed("DELETE", f"/v1/tenants/{{t}}/keys/{check_key}")[0] == 200
    assert client.post("/check", json=ALICE, headers=bearer(ACME_CHECK)).status_code == 401
    assert renewed("DELETE", f"/v1/tenants/{{t}}/keys/{check_key}")[0] == 409


@pytest.mark.parametrize("body,field", [
    ({"scope": "admin"}, "scope"), ({"scope": "check", "overlap_seconds": -1}, "overlap_seconds"),
    ({"scope": "check", "replaces": "a,b"}, "replaces"),
    ({"scope": "check", "overlap_seconds": "1"}, "overlap_seconds"),
])
def test_bad_key_requests_name_the_field(owner, body, field):
    before = owner("GET", "/v1/tenants/{t}/keys")[1]["keys"]
    status, answer = owner("POST", "/v1/tenants/{t}/keys", body)
    assert status == 422 and field in answer["errors"]["json"]
    assert owner("GET", "/v1/tenants/{t}/keys")[1]["keys"] == before


def test_scopes_a_check_key_writes_nothing_and_reads_no_keys(client, owner):
    checker = Caller(client, ACME_CHECK, "acme")
    assert checker("GET", "/v1/tenants/{t}/keys")[0] == 403
    assert checker("POST", "/v1/tenants/{t}/keys", {"scope": "owner"})[0] == 403
    foreign = Caller(client, GLOBEX_OWNER, "acme")
    assert foreign("GET", "/v1/tenants/{t}/keys")[0] == 403
    listed = owner("GET", "/v1/tenants/{t}/keys")[1]["keys"]
    assert foreign("DELETE", f"/v1/tenants/{{t}}/keys/{listed[0]['key_id']}")[0] == 403
    assert owner("GET", "/v1/tenants/{t}/keys")[1]["keys"] == listed
    # another tenant's key id is not found through this tenant
    globex = Caller(client, GLOBEX_OWNER, "globex")
    globex_key = globex("GET", "/v1/tenants/{t}/keys")[1]["keys"][0]["key_id"]
    assert owner("DELETE", f"/v1/tenants/{{t}}/keys/{globex_key}")[0] == 404


def test_production_refuses_development_keys(tmp_path):
    url = f"sqlite:///{tmp_path / 'prod.db'}"
    from ..support import fresh_database

    fresh_database(make_app(url))  # the seed with its published development keys
    real_admin = "ops.0123456789abcdef0123456789abcdef"
    with pytest.raises(SystemExit) as stopped:
        create_app({"AUTHZ_MODE": "production", "AUTHZ_ADMIN_KEY": real_admin,
                    "AUTHZ_DATABASE_URL": url, "AUTHZ_SESSION_SECRET": "s" * 40})
    assert "development keys" in str(stopped.value) and "acme-owner" in str(stopped.value)


def test_production_workers_ignore_development_keys_even_if_started(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'prod.db'}"
    from ..support import fresh_database

    fresh_database(make_app(url))
    import service

    monkeypatch.setattr(service, "_refuse_development_keys", lambda app: None)
    app = create_app({"AUTHZ_MODE": "production", "AUTHZ_DATABASE_URL": url,
                      "AUTHZ_ADMIN_KEY": "ops.0123456789abcdef0123456789abcdef",
                      "AUTHZ_SESSION_SECRET": "s" * 40})
    client = app.test_client()
    assert client.post("/check", json=ALICE, headers=bearer(ACME_CHECK)).status_code == 401
    assert config.DEV_ADMIN_KEY != app.config["AUTHZ_ADMIN_KEY"]
    assert client.post("/check", json={**ALICE, "tenant": "acme"},
                       headers=bearer(ADMIN)).status_code == 401


def test_writes_past_the_rate_limit_get_429_with_retry_after(database_url):
    from ..support import fresh_database

    app = make_app(database_url, AUTHZ_WRITE_RATE_LIMIT="3/minute")
    fresh_database(app)
    client = app.test_client()
    owner = Caller(client, ACME_OWNER, "acme")
    for n in range(3):
        assert owner("POST", "/v1/tenants/{t}/stores", {"store": f"limited-{n}"})[0] == 201
    response = client.post("/v1/tenants/acme/stores", json={"store": "limited-x"},
                           headers=bearer(ACME_OWNER))
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.get_json()["code"] == 429
    stores = owner("GET", "/v1/tenants/{t}/policy")[1]["stores"]
    assert "limited-x" not in stores
    # per key: another key, and every check, go on
    admin = Caller(client, ADMIN)
    assert admin("POST", "/v1/tenants/acme/stores", {"store": "limited-y"})[0] == 201
    assert client.post("/check", json=ALICE, headers=bearer(ACME_CHECK)).status_code == 200
    with app.app_context():
        db.engine.dispose()


def test_redis_counter_is_shared_by_every_worker():
    url = "redis://127.0.0.1:6379/0"
    spec = f"{2}/hour"
    key = f"test-{time.time_ns()}"
    first, second = WriteLimiter(spec, url), WriteLimiter(spec, url)
    first.hit(key)
    second.hit(key)
    from service.domain.errors import TooManyRequests

    with pytest.raises(TooManyRequests):
        first.hit(key)


def test_an_unreachable_redis_does_not_block_writes():
    limiter = WriteLimiter("1/hour", "redis://127.0.0.1:1/0")
    for _ in range(3):
        limiter.hit("someone")  # counted nowhere; logged, let through
