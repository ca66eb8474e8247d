"""What the tests, the benchmarks and the examples share to run the real service: gunicorn
instances, HAProxy, a PostgreSQL proxy that can be cut (servers.py), and the fixed
development keys and local database they talk to. Not part of the service package."""

from __future__ import annotations

import os

from service import config as _config

PG_ADMIN_URL = os.environ.get(
    "AUTHZ_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ACME_OWNER = _config.DEV_TENANT_KEYS["acme"]["owner"]
ACME_CHECK = _config.DEV_TENANT_KEYS["acme"]["check"]
ACME_AUDIT = _config.DEV_TENANT_KEYS["acme"]["audit"]
GLOBEX_OWNER = _config.DEV_TENANT_KEYS["globex"]["owner"]
GLOBEX_CHECK = _config.DEV_TENANT_KEYS["globex"]["check"]
GLOBEX_AUDIT = _config.DEV_TENANT_KEYS["globex"]["audit"]
ADMIN = _config.DEV_ADMIN_KEY


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
