"""/check, /check/batch and AuthZEN's Access Evaluation answered before Flask dispatches,
for the ordinary case.

A storefront asks on every page, so a decision should cost little more than the HTTP
server's own work. Flask's request machinery (context, routing, hooks, response object)
is about a tenth of that, so a well-formed, authenticated check is answered here, from
the same functions the Flask views call (check_input, Authz, Replica), from memory only.
Anything else - another route, an error of any kind, a body that is not plain JSON, a
revision this worker has not reached, a key or tenant it does not hold yet (loading needs
the database) - is handed to Flask untouched (the body put back), which answers it
exactly as it would have: every error shape and the fail-closed deny live there once.
"""

from __future__ import annotations

import io
import json
import time

from ..domain import reasons as W
from ..runtime import telemetry
from ..usecases.authz import Authz
from . import authzen_input, check_answer, check_input
from .check import in_path

JSON_TYPES = ("application/json", "application/json; charset=utf-8")
TENANT_PREFIX = "/v1/tenants/"  # /v1/tenants/<tenant>/check, .../check/batch, .../access/...


class FastCheck:
    """WSGI middleware: `app.wsgi_app = FastCheck(app.wsgi_app, app, service)`."""

    def __init__(self, flask_wsgi, app, service: Authz):
        self.flask_wsgi = flask_wsgi
        self.app = app
        self.service = service
        self.max_body = app.config["MAX_CONTENT_LENGTH"]
        self.routes = {"/check": self._single, "/check/batch": self._batch,
                       "/access/v1/evaluation": self._evaluation}

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
        path = environ.get("PATH_INFO") or ""
        answer, path_tenant = self._route(path)
        if answer is None or environ["REQUEST_METHOD"] != "POST" \
                or environ.get("CONTENT_TYPE", "").lower() not in JSON_TYPES:
            return self.flask_wsgi(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if not 0 < length <= self.max_body:
            return self.flask_wsgi(environ, start_response)
        body = environ["wsgi.input"].read(length)
        try:
            payload = self._answer(answer, body, environ, path_tenant)
        except Exception:
            # Not the ordinary case (bad input, unknown key, another tenant, ...): Flask
            # answers it, with the error shapes and the deny-on-failure of the views.
            payload = None
        # One series per route, not per tenant.
        route = path if path_tenant is None else \
            TENANT_PREFIX + "<tenant>" + path[len(TENANT_PREFIX) + len(path_tenant):]
        if payload is None:
            environ["wsgi.input"] = io.BytesIO(body)
            answered = self.flask_wsgi(environ, start_response)
            telemetry.observe_check(route, time.perf_counter() - started)
            return answered
        text, allowed, total, revision = payload
        environ[telemetry.ROUTE] = route
        telemetry.count_decisions(allowed, total - allowed)
        data = text.encode()
        replica = self.service.replica
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        if revision is not None:
            headers.append(("X-Policy-Revision", str(revision)))
        age = replica.staleness()
        if age is not None:
            headers.append(("X-Policy-Age", f"{age:.3f}"))
        start_response("200 OK", headers)
        telemetry.observe_check(route, time.perf_counter() - started)
        return [data]

    def _answer(self, answer, body: bytes, environ, path_tenant: str | None
                ) -> tuple[str, int, int, int | None] | None:
        """(JSON text, allowed, decisions, the revision answered at), or None to let Flask
        answer."""
        service = self.service
        service.background.ensure_started()
        replica = service.replica
        if replica.catch_up_due():
            with self.app.app_context():
                replica.catch_up()
        caller = replica.authenticate(environ.get("HTTP_AUTHORIZATION"), database=False)
        environ[telemetry.TENANT] = caller.tenant
        return answer(service, caller, json.loads(body), path_tenant)

    @staticmethod
    def _decided(service: Authz, caller, tenant: str, values: dict):
        """(the reason code, the revision, what would allow it) of one check read by
        check_input, or None when it uses an approval (a write: Flask's)."""
        request = check_input.check_request(tenant, values)
        if request.approval:
            return None
        service.check_areas(caller, (request,))
        code = service.answer(request, database=False)
        requires = service.decider.requires(tenant, request.area, request.action, code)
        return code, service.replica.revision(tenant), requires

    @classmethod
    def _single(cls, service: Authz, caller, body, path_tenant):
        values, wanted = check_input.read_single(body)
        tenant = service.check_tenant(caller, in_path(path_tenant, values.get("tenant")))
        decided = cls._decided(service, caller, tenant, values)
        if decided is None:
            return None
        code, revision, requires = decided
        if wanted is not None and revision < wanted:
            return None  # Flask waits for it or answers 409
        return (check_answer.single(code, requires, revision), int(code is W.GRANTED), 1,
                revision)

    @classmethod
    def _evaluation(cls, service: Authz, caller, body, path_tenant):
        """AuthZEN's Access Evaluation (api/authzen.py): the /check it means."""
        item, product = authzen_input.read(authzen_input.body_object(body))
        values = authzen_input.checked(item, product)
        tenant = service.check_tenant(caller, in_path(path_tenant, None))
        decided = cls._decided(service, caller, tenant, values)
        if decided is None:
            return None
        code, revision, requires = decided
        return (authzen_input.text(authzen_input.decision(code, requires, revision)),
                int(code is W.GRANTED), 1, revision)

    @staticmethod
    def _batch(service: Authz, caller, body, path_tenant):
        requests, wanted = check_input.batch_requests(
            body, service.settings.max_batch,
            lambda name: service.check_tenant(caller, in_path(path_tenant, name)))
        service.check_areas(caller, requests)
        tenants = {r[0] for r in requests}
        if wanted is not None and len(tenants) != 1:
            return None  # a revision is one tenant's: Flask refuses it (422)
        answers = service.answer_many(requests, database=False, tenants=tenants)
        replica = service.replica
        requires, item, granted, GRANTED, may = (service.decider.requires, check_answer.item,
                                                 check_answer.GRANTED, W.GRANTED,
                                                 W.MAY_REQUIRE)
        results = ",".join([granted if a is GRANTED else item(a, requires(r[0], r[3], r[4], a)
                                                               if a in may else None)
                            for a, r in zip(answers, requests, strict=True)])
        if len(tenants) == 1:
            revision = replica.revision(next(iter(tenants)))
            if wanted is not None and revision < wanted:
                return None  # Flask waits for it or answers 409
            text = f'{{"results":[{results}],"revision":{revision}}}'
        else:  # the admin's batch over several tenants: each one's revision
            revision = None  # (tenant ids are identifiers: nothing to escape)
            revisions = ",".join(f'"{t}":{replica.revision(t)}' for t in sorted(tenants))
            text = f'{{"results":[{results}],"revision":null,"revisions":{{{revisions}}}}}'
        telemetry.BATCH_SIZE.observe(len(answers))
        return text, answers.count(GRANTED), len(answers), revision
