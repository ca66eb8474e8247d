"""The decision log with real gunicorn processes (the rest: tests/api/test_decision_log.py)."""

from __future__ import annotations

from ..api.test_decision_log import ALICE
from ..support import ACME_CHECK, bearer


def test_a_worker_stopped_gracefully_writes_what_it_queued(tmp_path):
    """The log thread writes once a minute here; stopping gunicorn must not lose the queue."""
    import requests
    from sqlalchemy import create_engine, text

    from harness.servers import seeded_sqlite_instance

    service = seeded_sqlite_instance(tmp_path, workers=1, AUTHZ_DECISION_LOG_INTERVAL=60)
    try:
        for _ in range(5):
            requests.post(service.url + "/check", json={**ALICE, "store": "shopee-sg"},
                          headers=bearer(ACME_CHECK), timeout=5)
    finally:
        service.stop()
    engine = create_engine(f"sqlite:///{tmp_path / 'authz.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT sum(count) FROM decision_log WHERE allowed = 0")
                            ).scalar() == 5
    engine.dispose()
