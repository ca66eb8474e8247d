"""The embedded default (SQLite) without a database read on every /check (issue 18,
part 3): a worker asks SQLite's data_version, which changes when any connection commits,
and still reads every write at once, whichever worker made it."""

from __future__ import annotations

import pytest
import requests

from harness.servers import seeded_sqlite_instance

from ..support import ACME_CHECK, ACME_OWNER, bearer

pytestmark = pytest.mark.slow

ALICE = {"subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"}


def test_every_worker_reads_every_write_at_once_with_no_poll(tmp_path):
    # A poll once a minute: only data_version can make another worker's write visible.
    service = seeded_sqlite_instance(tmp_path, workers=2, AUTHZ_SYNC_INTERVAL=60)
    try:
        pids = set()
        for step in range(30):
            disabled = step % 2 == 0
            written = requests.put(f"{service.url}/v1/tenants/acme/subaccounts/alice/status",
                                   json={"disabled": disabled}, headers=bearer(ACME_OWNER),
                                   timeout=5)
            assert written.status_code == 200
            for _ in range(4):  # new connections: either worker answers
                answer = requests.post(f"{service.url}/check", json=ALICE, timeout=5,
                                       headers=bearer(ACME_CHECK))
                assert answer.json()["allowed"] is not disabled, (step, answer.text)
                assert int(answer.headers["X-Policy-Revision"]) >= written.json()["revision"]
            pids.add(requests.get(f"{service.url}/health", timeout=5).json()["pid"])
        assert len(pids) == 2  # both workers answered along the way
    finally:
        service.stop()
