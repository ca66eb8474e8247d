"""Time-boxed grants with real gunicorn workers (the rest: tests/api/test_expiring_grants.py)."""

from __future__ import annotations

import requests

from ..api.test_expiring_grants import APPROVE, FINANCE, _in, _until
from ..support import ACME_CHECK, ACME_OWNER, bearer


def test_every_worker_stops_at_the_instant_and_the_ledger_has_it_once(tmp_path):
    from harness.servers import seeded_sqlite_instance

    service = seeded_sqlite_instance(tmp_path, workers=2)
    try:
        ends = _in(2.0)
        with requests.Session() as session:
            granted = session.post(service.url + "/v1/tenants/acme/grants", timeout=5,
                                   json={**FINANCE, "expires_at": ends},
                                   headers=bearer(ACME_OWNER))
            assert granted.status_code == 200

            def answers(n: int) -> set[bool]:
                return {session.post(service.url + "/check", headers=bearer(ACME_CHECK),
                                     timeout=5, json=dict(zip(
                                         ("subject", "store", "object", "action"), APPROVE,
                                         strict=True))).json()["allowed"]
                        for _ in range(n)}

            assert answers(20) == {True}
            _until(ends)
            assert answers(40) == {False}  # whichever worker answers
            swept = session.get(service.url + "/v1/tenants/acme/ledger?actor=system:expiry",
                                headers=bearer(ACME_OWNER), timeout=5).json()
            assert swept["total"] == 1
    finally:
        service.stop()
