"""OpenTelemetry traces: on when OTEL_EXPORTER_OTLP_ENDPOINT is set (spans exported over
OTLP/HTTP), and free when it is not (no span is made; the request path is not wrapped).

A request's W3C `traceparent` is taken as its server span's parent (Traced). Spans: a
check (`authz.check`: decision, reason, tenant, revision), a write (`authz.write`, with
its lock, edit, invariants and commit), a tenant load and a catch-up. A write's
traceparent is kept in its ledger entry (details.trace), so the other workers' catch-up
that applies it links to it: one can follow a change from the write to every worker that
then answers with it.
"""

from __future__ import annotations

import os
from contextlib import nullcontext

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

_tracer: trace.Tracer | None = None  # None: tracing is off
_provider = None


def enabled() -> bool:
    return _tracer is not None


def configure(environ=os.environ) -> None:
    """Trace when OTEL_EXPORTER_OTLP_ENDPOINT is set (OTEL_SERVICE_NAME names the service,
    "authz" by default); otherwise stay off."""
    if not environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or _tracer is not None:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or \
        environ["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
    provider = TracerProvider(resource=Resource.create(
        {"service.name": environ.get("OTEL_SERVICE_NAME", "authz")}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    use(provider)


def use(provider) -> None:
    """Trace with `provider` (a TracerProvider: tests give one with an in-memory
    exporter), or stop (None). Apps built after it are traced."""
    global _tracer, _provider
    _tracer = None if provider is None else provider.get_tracer("authz")
    _provider = provider


def flush() -> None:
    """Export what is queued now (a worker exiting; tests)."""
    if _provider is not None:
        _provider.force_flush()


def stop() -> None:
    """Export what is queued and stop tracing (its exporter closed)."""
    provider = _provider
    use(None)
    if provider is not None:
        provider.shutdown()


def span(name: str, attributes: dict | None = None, links=None):
    """A span around a block, child of the current one; nothing when tracing is off."""
    if _tracer is None:
        return nullcontext()
    return _tracer.start_as_current_span(name, attributes=attributes, links=links)


def traceparent() -> str:
    """The current span's W3C traceparent ("" when off or outside a span)."""
    if _tracer is None:
        return ""
    carrier: dict = {}
    propagate.inject(carrier)
    return carrier.get("traceparent", "")


def links(traceparents) -> list[Link]:
    """Links to the spans these traceparents name (the writes a catch-up applies)."""
    out = []
    for value in traceparents:
        if value:
            context = trace.get_current_span(propagate.extract({"traceparent": value}))
            span_context = context.get_span_context()
            if span_context.is_valid:
                out.append(Link(span_context))
    return out


class Traced:
    """WSGI: each request one server span, its parent the request's traceparent; the
    response carries the span's traceparent. Only installed when tracing is on."""

    def __init__(self, wsgi, route_key: str):
        self.wsgi = wsgi
        self.route_key = route_key

    def __call__(self, environ, start_response):
        if _tracer is None:  # turned off since (tests)
            return self.wsgi(environ, start_response)
        carrier = {k: environ[h] for k, h in (("traceparent", "HTTP_TRACEPARENT"),
                                                ("tracestate", "HTTP_TRACESTATE"))
                   if h in environ}
        token = otel_context.attach(propagate.extract(carrier))
        method = environ.get("REQUEST_METHOD", "")
        try:
            # named by its route once known (never by the raw path: any path can be sent)
            with _tracer.start_as_current_span(  # type: ignore[union-attr]
                    f"HTTP {method}", kind=SpanKind.SERVER,
                    attributes={"http.request.method": method}) as server:
                parent = traceparent()

                def respond(status, headers, exc_info=None):
                    code = int(status[:3])
                    server.set_attribute("http.response.status_code", code)
                    if code >= 500:
                        server.set_status(Status(StatusCode.ERROR))
                    headers.append(("traceparent", parent))
                    return start_response(status, headers, exc_info)

                iterable = self.wsgi(environ, respond)
                try:  # (the body made inside the span; the iterable closed, as WSGI asks)
                    answer = list(iterable)
                finally:
                    close = getattr(iterable, "close", None)
                    if close is not None:
                        close()
                route = environ.get(self.route_key)
                if route:
                    server.set_attribute("http.route", route)
                    server.update_name(f"{method} {route}")
                return answer
        finally:
            otel_context.detach(token)
