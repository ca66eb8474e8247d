"""OpenTelemetry traces (issue 29), with an in-memory exporter: one trace through a write
(its lock, edit, invariants and commit), its propagation to the other worker (whose
catch-up links to the write) and the check that answers with it; and nothing at all when
tracing is off."""

from __future__ import annotations

import pytest

from service.runtime import tracing

from ..support import ACME_CHECK, ACME_OWNER, bearer, make_app

GATEWAY_TRACE = "ab" * 16
TRACEPARENT = f"00-{GATEWAY_TRACE}-{'cd' * 8}-01"
ALICE = {"subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"}


@pytest.fixture
def spans():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    yield exporter
    tracing.use(None)


def _named(exporter, name: str) -> list:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def test_one_trace_from_a_write_to_the_worker_that_answers_with_it(spans, app, database_url):
    here = app.test_client()  # the worker the write reaches
    there = make_app(database_url).test_client()  # another worker over the same database
    assert there.post("/check", json=ALICE, headers=bearer(ACME_CHECK)).get_json()["allowed"]

    response = here.put("/v1/tenants/acme/subaccounts/alice/status", json={"disabled": True},
                        headers={**bearer(ACME_OWNER), "traceparent": TRACEPARENT})
    assert response.status_code == 200, response.get_json()
    assert response.headers["traceparent"].split("-")[1] == GATEWAY_TRACE  # passed on
    [write] = [s for s in _named(spans, "authz.write")  # (not the seed's, if made now)
               if s.attributes["authz.use_case"] == "subaccount.status"]
    assert format(write.context.trace_id, "032x") == GATEWAY_TRACE
    assert write.attributes["authz.tenant"] == "acme"
    revision = write.attributes["authz.revision"]
    phases = {s.name for s in spans.get_finished_spans()
              if s.parent is not None and s.parent.span_id == write.context.span_id}
    assert phases == {"authz.write.lock", "authz.write.edit", "authz.write.invariants",
                      "authz.write.commit"}

    spans.clear()
    answer = there.post("/check", json=ALICE, headers=bearer(ACME_CHECK)).get_json()
    assert answer["allowed"] is False and answer["revision"] == revision
    [catch_up] = _named(spans, "authz.catch_up")
    assert any(link.context.span_id == write.context.span_id
               and link.context.trace_id == write.context.trace_id
               for link in catch_up.links), "the catch-up names the write it applied"
    assert catch_up.attributes["authz.to"] == revision
    [check] = _named(spans, "authz.check")
    assert dict(check.attributes) == {"authz.tenant": "acme", "authz.decision": False,
                                      "authz.reason": "disabled", "authz.revision": revision}
    assert check.context.trace_id == catch_up.context.trace_id  # one request, one trace


def test_a_tenant_load_is_a_span(spans, app):
    client = app.test_client()
    assert client.post("/check", json=ALICE, headers=bearer(ACME_CHECK)).status_code == 200
    [load] = _named(spans, "authz.tenant_load")
    assert load.attributes["authz.tenant"] == "acme"


def test_tracing_off_wraps_nothing_and_adds_nothing(app):
    assert not tracing.enabled()
    assert not isinstance(app.wsgi_app, tracing.Traced)
    response = app.test_client().post("/check", json=ALICE, headers={
        **bearer(ACME_CHECK), "traceparent": TRACEPARENT})
    assert response.status_code == 200 and "traceparent" not in response.headers


def test_spans_go_over_otlp_when_an_endpoint_is_set():
    """OTEL_EXPORTER_OTLP_ENDPOINT set: spans are posted to <endpoint>/v1/traces (OTLP over
    HTTP, protobuf), here to a collector of this test's own."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the handler's name is http.server's
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        tracing.configure({"OTEL_EXPORTER_OTLP_ENDPOINT":
                           f"http://127.0.0.1:{server.server_port}"})
        assert tracing.enabled()
        with tracing.span("authz.check", {"authz.tenant": "acme"}):
            pass
        tracing.flush()
        assert received, "nothing was exported"
        path, content_type, body = received[0]
        assert path == "/v1/traces" and content_type == "application/x-protobuf"
        assert b"authz.check" in body and b"acme" in body
    finally:
        tracing.stop()
        server.shutdown()
        server.server_close()


def test_a_server_span_is_named_by_its_route_never_by_the_raw_path(spans, app):
    client = app.test_client()
    client.post("/v1/tenants/acme/check", json=ALICE, headers=bearer(ACME_CHECK))
    client.get("/no/such/route/" + "x" * 50)
    names = {s.name for s in spans.get_finished_spans() if s.kind.name == "SERVER"}
    assert names == {"POST /v1/tenants/<tenant>/check", "HTTP GET"}
