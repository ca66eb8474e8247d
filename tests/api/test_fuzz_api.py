"""Schemathesis against our own OpenAPI document, every operation, with the owner key and
without one: no 5xx, and every error in the one documented shape. Bounded for CI by
AUTHZ_FUZZ_EXAMPLES (`make fuzz` raises it)."""

from __future__ import annotations

import os
import tempfile

import schemathesis
from hypothesis import HealthCheck, settings

from ..support import ACME_OWNER, bearer, fresh_database, make_app

EXAMPLES = int(os.environ.get("AUTHZ_FUZZ_EXAMPLES", "20"))


def _app():
    """One seeded app on a SQLite file for the whole module (schemathesis builds its tests
    from the document at collection time, before fixtures exist)."""
    app = make_app(f"sqlite:///{tempfile.mkdtemp(prefix='authz-fuzz-')}/fuzz.db",
                   AUTHZ_WRITE_RATE_LIMIT="1000000/minute")  # fuzz the routes, not the limit
    fresh_database(app)
    return app


schema = schemathesis.openapi.from_wsgi("/openapi.json", _app())


FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))
PUBLIC = ("/health", "/ready", "/metrics", "/openapi.json", "/v1/catalogue",
          "/.well-known/authzen-configuration",  # AuthZEN's metadata: no key needed
          "/.well-known/authzen-configuration/v1/tenants/{tenant}")


def _call_and_judge(case, headers: dict):
    response = case.call(headers=headers)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert {"code", "status", "message"} <= body.keys(), body
        assert body["code"] == response.status_code
    return response


@schema.parametrize()
@FUZZ
def test_with_the_owner_key(case):
    _call_and_judge(case, bearer(ACME_OWNER))


@schema.parametrize()
@FUZZ
def test_without_a_key(case):
    response = _call_and_judge(case, {})
    assert response.status_code in (401, 404, 405) or case.path in PUBLIC, (
        case.method, case.path, response.status_code)
