"""Operators' view: /metrics moving under load (across gunicorn workers), /ready, and one
JSON log line per request with its id, never a token."""

from __future__ import annotations

import io
import json
import re
import time

import pytest
import requests

from harness.servers import seeded_sqlite_instance
from service.runtime.telemetry import FLUSH_SECONDS

from ..support import ACME_CHECK, ACME_OWNER, ADMIN, bearer

pytestmark = pytest.mark.storage  # run on both databases (tests/conftest.py)

ALICE = {"subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"}


def _series(text: str, name: str, **labels) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"{name}(?:{{(.*)}})? ([0-9.e+-]+)$", line)
        if not match:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


@pytest.fixture
def request_log(app):
    """The request log's lines, as the service writes them."""
    stream = io.StringIO()
    app.wsgi_app.stream = stream
    app.wsgi_app.enabled = True  # (make_app turns it off)

    class Lines(list):
        def __iter__(self):
            app.wsgi_app.flush()  # (written off the request path, every FLUSH_SECONDS)
            return iter(stream.getvalue().splitlines())

    return Lines()


def test_one_json_line_per_request_with_its_id_and_no_token(client, request_log):
    answered = client.post("/check", json=ALICE,
                           headers={**bearer(ACME_CHECK), "X-Request-ID": "shop-42.a"})
    assert answered.headers["X-Request-ID"] == "shop-42.a"
    made_up = client.post("/v1/tenants/acme/stores", json={"store": "a,b"},
                          headers={**bearer(ACME_OWNER), "X-Request-ID": "bad id!"})
    assert re.fullmatch(r"[0-9a-f]{32}", made_up.headers["X-Request-ID"])
    client.get("/no/such/route")
    entries = [json.loads(line) for line in request_log]
    assert [(e["route"], e["status"], e["tenant"]) for e in entries] == [
        ("/check", 200, "acme"), ("/v1/tenants/<tenant>/stores", 422, "acme"),
        ("unmatched", 404, None)]
    assert entries[0]["request_id"] == "shop-42.a"
    assert entries[1]["request_id"] == made_up.headers["X-Request-ID"]
    assert all(e["duration_ms"] >= 0 for e in entries)
    for token in (ACME_CHECK, ACME_OWNER, ADMIN, "secret"):
        assert not any(token in line for line in request_log)


def test_ready_says_loaded_and_how_fresh(client):
    body = client.get("/ready").get_json()
    assert body["ready"] is True and body["database"] == "reachable"
    assert body["tenants_held"] == 0  # tenants are loaded when a request needs them
    client.post("/check", json=ALICE, headers=bearer(ACME_CHECK))
    assert client.get("/ready").get_json()["tenants_held"] == 1


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    instance = seeded_sqlite_instance(tmp_path_factory.mktemp("metrics"), workers=2)
    yield instance
    instance.stop()


def test_metrics_move_under_load_across_workers(service):
    before = requests.get(service.url + "/metrics", timeout=5).text
    with requests.Session() as session:
        for i in range(60):
            session.post(service.url + "/check", headers=bearer(ACME_CHECK), timeout=5,
                         json={**ALICE, "store": "shopee-sg" if i % 3 == 0 else "amazon-us"})
        session.post(service.url + "/check/batch", headers=bearer(ACME_CHECK), timeout=5,
                     json={"checks": [ALICE] * 40})
        session.post(service.url + "/v1/tenants/acme/stores", headers=bearer(ACME_OWNER),
                     json={"store": "metrics-store"}, timeout=5)
    def allowed(page: str) -> float:
        return _series(page, "authz_decisions_total", result="allow") - _series(
            before, "authz_decisions_total", result="allow")

    # Each worker hands its counts to the shared files every FLUSH_SECONDS (the answering
    # one at once): within a second or two, every page counts every worker's.
    deadline = time.monotonic() + 10
    while allowed(requests.get(service.url + "/metrics", timeout=5).text) < 80 \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2 * FLUSH_SECONDS)
    pages = [requests.get(service.url + "/metrics", timeout=5).text for _ in range(6)]
    for after in pages:  # whichever worker answers, the counts are every worker's
        assert _series(after, "authz_decisions_total", result="allow") - _series(
            before, "authz_decisions_total", result="allow") == 80
        assert _series(after, "authz_decisions_total", result="deny") - _series(
            before, "authz_decisions_total", result="deny") == 20
        assert _series(after, "authz_check_duration_seconds_count", route="/check") >= 60
        assert _series(after, "authz_batch_size_sum") >= 40
        assert _series(after, "authz_writes_total", result="committed") >= 1
        assert "authz_revision_lag" in after and "authz_tenants_held" in after
        assert "authz_database_errors_total" in after or "authz_database_errors" in after
    workers = {m for page in pages for m in re.findall(r'authz_tenants_held{pid="(\d+)"}',
                                                       page)}
    assert len(workers) == 2
    # each worker's decision-log thread wrote its denies within its interval (1 s)
    time.sleep(1.5)
    logged = requests.get(service.url + "/v1/tenants/acme/decisions?allowed=false",
                          headers=bearer(ACME_OWNER), timeout=5).json()
    assert sum(e["count"] for e in logged["entries"]) == 20  # one entry per worker, counted
    assert {e["store"] for e in logged["entries"]} == {"shopee-sg"}
    after = requests.get(service.url + "/metrics", timeout=5).text
    # (and perhaps a sampled allow or two: 1 % of the 80)
    assert _series(after, "authz_decision_log_written_total") >= logged["total"]
