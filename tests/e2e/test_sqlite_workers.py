"""The embedded default (SQLite) without a database read on every /check (issue 18,
part 3): a worker asks SQLite's data_version, which changes when any connection commits,
and still reads every write at once, whichever worker made it."""

from __future__ import annotations

import pytest
import requests

from harness.servers import Instance, seeded_sqlite_instance

from ..support import ACME_CHECK, ACME_OWNER, bearer

pytestmark = pytest.mark.slow

ALICE = {"subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"}


def test_every_worker_reads_every_write_at_once_with_no_poll(tmp_path):
    """Two worker processes on one SQLite file (two single-worker instances, so which one
    answers is certain): each write, made through either, is seen by the other at once.
    A poll once a minute: only data_version can make the other's write visible."""
    a = seeded_sqlite_instance(tmp_path, workers=1, AUTHZ_SYNC_INTERVAL=60)
    b = Instance(a.env["AUTHZ_DATABASE_URL"], workers=1, AUTHZ_SYNC_INTERVAL=60)
    try:
        for step in range(30):
            disabled = step % 2 == 0
            writer, reader = (a, b) if step % 4 < 2 else (b, a)
            written = requests.put(f"{writer.url}/v1/tenants/acme/subaccounts/alice/status",
                                   json={"disabled": disabled}, headers=bearer(ACME_OWNER),
                                   timeout=5)
            assert written.status_code == 200
            answer = requests.post(f"{reader.url}/check", json=ALICE, timeout=5,
                                   headers=bearer(ACME_CHECK))
            assert answer.json()["allowed"] is not disabled, (step, answer.text)
            assert int(answer.headers["X-Policy-Revision"]) >= written.json()["revision"]
    finally:
        a.stop()
        b.stop()
