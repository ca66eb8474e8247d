"""/check and /check/batch: the contract storefront services code against.

Bad input is a 4xx naming the field; anything that goes wrong while deciding is a deny.
"""

from __future__ import annotations

import json

from flask import Response, current_app, g, request
from flask_smorest import Blueprint

from ..domain import reasons as W
from ..domain.errors import InvalidInput
from ..runtime import telemetry
from ..schemas.check import CheckBatch, CheckBatchResult, CheckResult, Explanation, SingleCheck
from ..usecases import approvals
from . import check_answer, check_input
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
    (the hot path), with the tenant's revision that answered and how long since this
    worker last confirmed it is current (it keeps answering from its last state while the
    database is unreachable)."""
    if isinstance(payload, dict):
        revision = payload.get("revision")
        payload = json.dumps(payload, separators=(",", ":"))
    response = Response(payload, mimetype=JSON)
    headers = response.headers
    if revision is not None:
        headers["X-Policy-Revision"] = str(revision)
    age = replica.staleness()
    if age is not None:
        headers["X-Policy-Age"] = f"{age:.3f}"
    return response


def in_path(path_tenant: str | None, named: str | None) -> str | None:
    """The tenant a check names: on /v1/tenants/{t}/check... routes the path's, which a
    `tenant` in the body may repeat but not contradict."""
    if path_tenant is None:
        return named
    if named is not None and named != path_tenant:
        raise InvalidInput("the body names another tenant than the path",
                           {"json": {"tenant": ["must be the path's tenant"]}})
    return path_tenant


def _single_request(path_tenant: str | None = None):
    """(service, the request of a /check body), at the revision the body asks for."""
    service = current_app.extensions["authz"]
    body, revision = check_input.read_single(_body())
    tenant = service.check_tenant(g.caller, in_path(path_tenant, body.get("tenant")))
    request_ = check_input.check_request(tenant, body)
    service.check_areas(g.caller, (request_,))
    service.replica.require(tenant, revision, service.settings.consistency_wait)
    return service, request_


def check(tenant: str | None = None):
    """Is `subject` allowed `object`:`action` in `store`? Errors while deciding deny."""
    service, decision = _single_request(tenant)
    replica = service.replica
    if decision.approval:
        code, revision = approvals.use(service, g.caller, decision)
    else:
        code = service.answer(decision)
        revision = replica.revision(decision.tenant)
    allowed = code == W.GRANTED
    telemetry.count_decisions(int(allowed), int(not allowed))
    requires = service.decider.requires(decision.tenant, decision.area, decision.action, code)
    return answer_response(check_answer.single(code, requires, revision), replica, revision)


def check_batch(tenant: str | None = None):
    """Up to AUTHZ_MAX_BATCH checks, answered in order, all at one revision."""
    service, caller = current_app.extensions["authz"], g.caller
    requests, revision = check_input.batch_requests(
        _body(), service.settings.max_batch,
        lambda name: service.check_tenant(caller, in_path(tenant, name)))
    service.check_areas(caller, requests)
    replica = service.replica
    tenants = {r[0] for r in requests}
    one = next(iter(tenants)) if len(tenants) == 1 else None
    if revision is not None:
        if one is None:
            raise InvalidInput("a revision is one tenant's: this batch names several",
                               {"json": {"at_least_revision": [
                                   "only for a batch about one tenant"]}})
        replica.require(one, revision, service.settings.consistency_wait)
    results = service.answer_many(requests, tenants=tenants)
    allowed = results.count(W.GRANTED)
    telemetry.count_decisions(allowed, len(results) - allowed)
    telemetry.BATCH_SIZE.observe(len(results))  # (as the fast path counts its batches)
    requires = service.decider.requires
    answer = {"results": [{"allowed": code == W.GRANTED, "reason": code,
                           "requires": requires(q[0], q[3], q[4], code)}
                          for code, q in zip(results, requests, strict=True)],
              "revision": None if one is None else replica.revision(one)}
    if one is None and tenants:
        answer["revisions"] = {t: replica.revision(t) for t in sorted(tenants)}
    return answer_response(answer, replica)


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
    service, request_ = _single_request()
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
