"""/check with a flood of distinct unknown subjects and stores must not grow memory
(pycasbin caches every domain string it sees; the compiled index keeps nothing per request).
`make fuzz` runs this with 1,000,000 names; the suite with 200,000."""

from __future__ import annotations

import gc
import json
import os
import random

from werkzeug.test import Client

from harness.measure import rss_mb

from ..support import ACME_CHECK, bearer

NAMES = int(os.environ.get("AUTHZ_FUZZ_NAMES", "200000"))


def _flood(client: Client, rng: random.Random, count: int, app) -> None:
    log = app.extensions["authz"].decision_log
    for _ in range(count // 1000):
        checks = [{"subject": f"u{rng.getrandbits(48):x}", "store": f"s{rng.getrandbits(48):x}",
                   "object": "orders", "action": "view"} for _ in range(1000)]
        response = client.post("/check/batch", data=json.dumps({"checks": checks}),
                               headers={**bearer(ACME_CHECK),
                                        "Content-Type": "application/json"})
        assert response.status_code == 200
        assert not any(r["allowed"] for r in response.get_json()["results"])
        with app.app_context():  # what each worker's decision-log thread does every second
            log.flush()


def test_unknown_names_do_not_grow_memory(app):
    client = Client(app.wsgi_app)
    rng = random.Random(11)
    _flood(client, rng, 20_000, app)  # warm up allocator pools
    gc.collect()
    before = rss_mb()
    _flood(client, rng, NAMES, app)
    gc.collect()
    grown = rss_mb() - before
    print(f"RSS {before:.1f} MB -> {before + grown:.1f} MB after {NAMES:,} unknown names")
    assert grown < 16, f"RSS grew {grown:.1f} MB over {NAMES:,} unknown subjects and stores"


def test_the_decision_log_holds_a_bounded_number_of_entries(app, monkeypatch):
    """With its writes failing (the database gone), the log keeps at most QUEUE_LIMIT
    distinct decisions and counts the rest as dropped."""
    from service.runtime import decision_log

    monkeypatch.setattr(decision_log, "QUEUE_LIMIT", 3000)
    log = app.extensions["authz"].decision_log
    dropped = decision_log.DROPPED._value.get()
    _flood_without_writes(Client(app.wsgi_app), random.Random(5), 5000)
    assert len(log._pending) == 3000
    assert decision_log.DROPPED._value.get() - dropped == 2000


def _flood_without_writes(client: Client, rng: random.Random, count: int) -> None:
    for _ in range(count // 1000):
        checks = [{"subject": f"u{rng.getrandbits(48):x}", "store": "amazon-us",
                   "object": "orders", "action": "view"} for _ in range(1000)]
        assert client.post("/check/batch", data=json.dumps({"checks": checks}),
                           headers={**bearer(ACME_CHECK), "Content-Type": "application/json"}
                           ).status_code == 200
