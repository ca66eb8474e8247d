"""Helpers shared by the tests: keys, app construction, and a caller over the HTTP client."""

from __future__ import annotations

import functools
import weakref
from pathlib import Path

from harness import (  # noqa: F401 - re-exported for the tests
    ACME_AUDIT,
    ACME_CHECK,
    ACME_OWNER,
    ADMIN,
    GLOBEX_AUDIT,
    GLOBEX_CHECK,
    GLOBEX_OWNER,
    PG_ADMIN_URL,
    bearer,
)
from service import create_app
from service.startup import seeding
from service.storage.models import db

ROOT = Path(__file__).resolve().parent.parent


# Every app a test made, so that its pooled connections are closed after each test (an
# engine left to the garbage collector closes nothing: psycopg warns, at a random later
# test). Disposing only closes idle connections; an app used again opens new ones.
APPS: weakref.WeakSet = weakref.WeakSet()


def make_app(database_url: str, **overrides):
    # In-process apps look at the database before every request; the listener thread is
    # tested with real gunicorn processes (test_propagation.py).
    # The decision log is written when a test flushes it, not by a thread outliving the test;
    # the request log is off (its thread would write lines into whichever test runs then):
    # tests/e2e/test_telemetry.py turns it on and reads it.
    app = create_app({"AUTHZ_DATABASE_URL": database_url, "AUTHZ_MODE": "development",
                      "AUTHZ_SYNC_INTERVAL": 0, "AUTHZ_LISTEN": False,
                      "AUTHZ_DECISION_LOG_INTERVAL": 0, "AUTHZ_REQUEST_LOG": False,
                      **overrides})
    APPS.add(app)
    return app


def close_connections() -> None:
    """After each test: its apps' threads stopped (a sweeper holds its app alive; the
    next request starts them again) and their connections closed."""
    for app in list(APPS):
        app.extensions["authz"].background.stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def fresh_database(app, *, seed: bool = True) -> None:
    with app.app_context():
        seeding.drop_all()
        seeding.init_db()
        if seed:
            path = ROOT / "policies" / "seed.csv"
            seeding.load_seed(path.read_text(), "seed.csv", dev_keys=True)
        db.session.remove()


class Caller:
    """Acts through the HTTP client with one key, returning (status, json)."""

    def __init__(self, client, token: str, tenant: str | None = None):
        self.client = client
        self.headers = bearer(token)
        self.tenant = tenant

    def __call__(self, method: str, path: str, json=None):
        if self.tenant is not None:
            path = path.replace("{t}", self.tenant)
        response = self.client.open(path, method=method, json=json, headers=self.headers)
        return response.status_code, response.get_json()

    def check(self, subject, store, obj, action, **extra) -> bool:
        status, body = self("POST", "/check", {"subject": subject, "store": store,
                                               "object": obj, "action": action, **extra})
        assert status == 200, body
        return body["allowed"]


@functools.lru_cache(maxsize=64)
def replay_answers(export: str, questions: tuple[tuple[str, ...], ...]) -> tuple[bool, ...]:
    """Stock pycasbin's answers to `questions` (enforce's eight values each) on an export.
    A pure function of the two: a state machine asks it after every step, and a step that
    left a tenant's export as it was (most leave one tenant alone, a refused one all)
    costs no second replay."""
    enforcer = replay(export)
    return tuple(enforcer.enforce(*q) for q in questions)


def replay(export: str):
    """The auditor's enforcer: stock pycasbin on policies/model.conf and an export's CSV."""
    import casbin

    enforcer = casbin.Enforcer(str(ROOT / "policies" / "model.conf"))
    for line in export.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        ptype, *values = [x.strip() for x in line.split(",")]
        if ptype == "p":
            enforcer.add_named_policy(ptype, *values)
        else:
            enforcer.add_named_grouping_policy(ptype, *values)
    return enforcer
