"""/check, /check/batch and AuthZEN's Access Evaluation answered before Flask dispatches,
for the ordinary case.

A storefront asks on every page, so a decision should cost little more than the HTTP
server's own work. Flask's request machinery (context, routing, hooks, response object)
is about a tenth of that, so a well-formed, authenticated check is answered here by the
one handler the Flask views call (api/check_handler.py), from memory only. Anything else
- another route, an error of any kind, a body that is not plain JSON, what the handler
defers (a revision this worker has not reached, a key or tenant it does not hold yet, an
approval to use), a query string (these routes take none: Flask refuses it) - is handed
to Flask untouched (the body put back), which answers it
exactly as it would have: every error shape and the fail-closed deny live there once.
"""

from __future__ import annotations

import io
import json
import time

from ..runtime import telemetry
from ..usecases.authz import Authz
from . import check_answer, check_handler, check_input

JSON_TYPES = ("application/json", "application/json; charset=utf-8")
TENANT_PREFIX = "/v1/tenants/"  # /v1/tenants/<tenant>/check, .../check/batch, .../access/...
CHECK_ROUTE = "authz.check_route"  # environ: the decision route a request was (its series)


class FastCheck:
    """WSGI middleware: `app.wsgi_app = FastCheck(app.wsgi_app, app, service)`."""

    def __init__(self, flask_wsgi, app, service: Authz):
        self.flask_wsgi = flask_wsgi
        self.app = app
        self.service = service
        self.max_body = app.config["MAX_CONTENT_LENGTH"]
        self.routes = {"/check": check_handler.single, "/check/batch": check_handler.batch,
                       "/access/v1/evaluation": check_handler.evaluation}

    def _route(self, path: str):
        """(the answer function, the tenant the path names or None), or (None, None)."""
        answer = self.routes.get(path)
        if answer is not None or not path.startswith(TENANT_PREFIX):
            return answer, None
        tenant, _, rest = path[len(TENANT_PREFIX):].partition("/")
        answer = self.routes.get("/" + rest)
        if answer is None or not check_input.IDENTIFIER(tenant):
            return None, None
        return answer, tenant

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        answered = self.answer(environ)
        if answered is None:
            flask_answer = self.flask_wsgi(environ, start_response)
            route = environ.get(CHECK_ROUTE)
            if route is not None:  # a decision route's answer, however it was answered
                telemetry.observe_check(route, time.perf_counter() - started)
            return flask_answer
        data, headers = answered
        start_response("200 OK", headers)
        return [data]

    def answer(self, environ) -> tuple[bytes, list[tuple[str, str]]] | None:
        """(the body, the headers) of a 200 answered from memory, or None for Flask to
        answer (the body put back where it was read from). An asynchronous server calls
        this on its event loop (api/asgi.py)."""
        started = time.perf_counter()
        path = environ.get("PATH_INFO") or ""
        answer, path_tenant = self._route(path)
        if answer is None or environ["REQUEST_METHOD"] != "POST" \
                or environ.get("QUERY_STRING") \
                or environ.get("CONTENT_TYPE", "").lower() not in JSON_TYPES:
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if not 0 < length <= self.max_body:
            return None
        body = environ["wsgi.input"].read(length)
        try:
            answered = self._answer(answer, body, environ, path_tenant)
        except Exception:
            # Not the ordinary case (Deferred, bad input, unknown key, another tenant, ...):
            # Flask answers it, with the error shapes and the deny-on-failure of the views.
            answered = None
        # One series per route, not per tenant.
        route = environ[CHECK_ROUTE] = path if path_tenant is None else \
            TENANT_PREFIX + "<tenant>" + path[len(TENANT_PREFIX) + len(path_tenant):]
        if answered is None:
            environ["wsgi.input"] = io.BytesIO(body)
            return None
        telemetry.observe_check(route, time.perf_counter() - started)
        environ[telemetry.ROUTE] = route
        data = answered.text.encode()
        return data, [
            ("Content-Type", "application/json"), ("Content-Length", str(len(data))),
            *check_answer.headers(answered.revision, self.service.replica.staleness())]

    def _answer(self, answer, body: bytes, environ, path_tenant: str | None
                ) -> check_handler.Answered:
        service = self.service
        service.background.ensure_started()
        replica = service.replica
        if replica.catch_up_due():
            with self.app.app_context():
                replica.catch_up()
        caller = replica.authenticate(environ.get("HTTP_AUTHORIZATION"), database=False)
        environ[telemetry.TENANT] = caller.tenant
        return answer(service, caller, json.loads(body), path_tenant, database=False)
