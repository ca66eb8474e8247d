"""/check and /check/batch: the contract storefront services code against.

The views answer what the fast path defers (api/check_handler.py: the one handler both
call). Bad input is a 4xx naming the field; anything that goes wrong while deciding is a
deny.
"""

from __future__ import annotations

import json

from flask import Response, current_app, g, request
from flask_smorest import Blueprint

from ..domain import reasons as W
from ..schemas.check import CheckBatch, CheckBatchResult, CheckResult, Explanation, SingleCheck
from . import check_answer, check_handler, check_input
from .auth import authenticate

JSON = "application/json"
blp = Blueprint("check", __name__, description="Allow/deny decisions")
blp.before_request(authenticate)

# The bodies are read by check_input (the hot path); these schemas document them.
_DOC_SINGLE = {"required": True, "content": {"application/json": {"schema": SingleCheck}}}
_DOC_BATCH = {"required": True, "content": {"application/json": {"schema": CheckBatch}}}


def _body() -> object:
    """The JSON body: 400 if it is not JSON, None if no JSON was sent."""
    return request.get_json(silent=False) if request.is_json else None


def answer_response(payload: dict | str, replica, revision: int | None = None) -> Response:
    """The JSON answer (or its text), serialised here rather than by the documented schema
    (the hot path), with the headers of a decision (check_answer.headers)."""
    if isinstance(payload, dict):
        revision = payload.get("revision")
        payload = json.dumps(payload, separators=(",", ":"))
    response = Response(payload, mimetype=JSON)
    for name, value in check_answer.headers(revision, replica.staleness()):
        response.headers[name] = value
    return response


def check(tenant: str | None = None):
    """Is `subject` allowed `object`:`action` in `store`? Errors while deciding deny."""
    service = current_app.extensions["authz"]
    answered = check_handler.single(service, g.caller, _body(), tenant, database=True)
    return answer_response(answered.text, service.replica, answered.revision)


def check_batch(tenant: str | None = None):
    """Up to AUTHZ_MAX_BATCH checks, answered in order, all at one revision."""
    service = current_app.extensions["authz"]
    answered = check_handler.batch(service, g.caller, _body(), tenant, database=True)
    return answer_response(answered.text, service.replica, answered.revision)


def denied_on_error(reason: str | None = None, message: str = "internal error; denied"
                    ) -> dict:
    """The answer when deciding failed: a deny, and for a batch one deny per check (so a
    caller matching results to its checks never finds one missing and guesses)."""
    code = reason or W.ERROR
    answer = {"allowed": False, "reason": code, "requires": None, "error": message}
    if request.path.endswith("/check/batch"):
        try:
            checks, _ = check_input.read_batch(_body(), current_app.extensions["authz"]
                                               .settings.max_batch)
        except Exception:  # noqa: BLE001 - unreadable: no results to list
            checks = []
        answer["results"] = [{"allowed": False, "reason": code, "requires": None}
                             for _ in checks]
    return answer


def explain():
    """The decision /check would give, and why: every deny that applies and every path
    that allows (role, department or direct grant, store or all stores), with the Casbin
    rules that matched. Allowed only when no deny applies and some path allows."""
    service = current_app.extensions["authz"]
    request_ = check_handler.request_of(service, g.caller, _body(), None, database=True)
    answer = service.explain(g.caller, request_.tenant, request_)
    return answer_response({**answer, "revision": service.replica.revision(request_.tenant)},
                           service.replica)


def _route(path: str, view, request_doc: dict, response_schema) -> None:
    """Route `view` undecorated (no per-request wrappers on the hot path), documented in
    the OpenAPI spec as flask-smorest would document the decorated view."""
    documented = blp.doc(requestBody=request_doc)(blp.response(200, response_schema)(view))
    view._apidoc = documented._apidoc
    blp.route(path, methods=["POST"])(view)


_route("/check", check, _DOC_SINGLE, CheckResult)
_route("/check/batch", check_batch, _DOC_BATCH, CheckBatchResult)
# The same checks on a path that names the tenant, so a load balancer can route on it
# (the key must be that tenant's, or the admin's). Same bodies, same answers.
_route("/v1/tenants/<tenant>/check", check, _DOC_SINGLE, CheckResult)
_route("/v1/tenants/<tenant>/check/batch", check_batch, _DOC_BATCH, CheckBatchResult)
_route("/explain", explain, _DOC_SINGLE, Explanation)
