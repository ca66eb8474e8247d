"""The OpenID AuthZEN Authorization API 1.0 (README, "AuthZEN"): access evaluation,
access evaluations, the three searches and the PDP's metadata.

Each evaluation is read as the /check item it means (api/authzen_input.py) and answered
by /check's own path: the same decision, reason code, `requires` and revision, an
approval spent on its one use. The tenant is the key's, or the path's on
/v1/tenants/{tenant}/access/v1/... (the key must be that tenant's or the admin's). Bad
input is 400 naming the field; anything that goes wrong while deciding is a deny.
"""

from __future__ import annotations

import base64
import hashlib
import json

from flask import Response, current_app, g, request
from flask_smorest import Blueprint

from ..domain import reasons as W
from ..domain import rules as R
from ..domain.errors import Forbidden, InvalidInput
from ..runtime import telemetry
from ..schemas.authzen import (
    AuthZenEvaluationRequest,
    AuthZenEvaluationResponse,
    AuthZenEvaluationsRequest,
    AuthZenEvaluationsResponse,
    AuthZenMetadata,
    AuthZenSearchRequest,
    AuthZenSearchResponse,
)
from ..usecases import access
from . import authzen_input as Z
from . import check_handler, check_input
from .auth import authenticate
from .check import answer_response

JSON = "application/json"
BASE = Z.BASE
TENANT_BASE = Z.TENANT_BASE
WELL_KNOWN = "/.well-known/authzen-configuration"
SEMANTICS = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")
MAX_PAGE = 1000  # a search answers at most this many results a page

blp = Blueprint("authzen", __name__, description="OpenID AuthZEN Authorization API 1.0")
blp.before_request(authenticate)
discovery = Blueprint("authzen_discovery", __name__,
                      description="AuthZEN PDP metadata (no key needed)")


def _json(payload: dict, revision: int | None = None) -> Response:
    """The JSON answer, with the revision it was decided at and the policy's age as
    /check's answers carry them."""
    return answer_response(Z.text(payload), current_app.extensions["authz"].replica,
                           revision)


def _body() -> dict:
    """The request's JSON object: 400 when it is not JSON, not an object, or empty."""
    if not request.is_json:
        raise Z.BadRequest("the body must be JSON (Content-Type: application/json)",
                           {"json": ["Content-Type: application/json"]})
    return Z.body_object(request.get_json(silent=False))


def _tenant(path_tenant: str | None) -> str:
    return check_handler.evaluation_tenant(current_app.extensions["authz"], g.caller,
                                           path_tenant)


def _decision(code: str, request_, revision: int) -> dict:
    requires = current_app.extensions["authz"].decider.requires(
        request_.tenant, request_.area, request_.action, code)
    return Z.decision(code, requires, revision)


def evaluation(tenant: str | None = None):
    """Access Evaluation: one decision."""
    service = current_app.extensions["authz"]
    answered = check_handler.evaluation(service, g.caller, _body(), tenant, database=True)
    return answer_response(answered.text, service.replica, answered.revision)


def evaluations(tenant: str | None = None):
    """Access Evaluations: each evaluation with the top-level defaults it omits, answered
    in order at one revision; `options.evaluations_semantic` stops after the first deny
    or the first permit. An evaluation that cannot be read is a deny naming its error
    (the others are still answered); no `evaluations` (or none): a single evaluation."""
    body = _body()
    items = body.get("evaluations")
    if items is None or items == []:
        return evaluation(tenant)
    tenant = _tenant(tenant)
    if not isinstance(items, list):
        raise Z.BadRequest("evaluations must be an array", {"evaluations": ["Not a valid list."]})
    service = current_app.extensions["authz"]
    if len(items) > service.settings.max_batch:
        raise Z.BadRequest(f"at most {service.settings.max_batch} evaluations",
                           {"evaluations": [f"1 to {service.settings.max_batch} items"]})
    options = body.get("options") or {}
    semantic = options.get("evaluations_semantic", SEMANTICS[0]) \
        if isinstance(options, dict) else None
    if semantic not in SEMANTICS:
        raise Z.BadRequest("options.evaluations_semantic is one of " + ", ".join(SEMANTICS),
                           {"options.evaluations_semantic": [f"one of {', '.join(SEMANTICS)}"]})
    answers: list = []
    asked: list = []
    for number, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise Z.BadRequest("an evaluation is an object",
                                   {f"evaluations.{number}": [Z.NOT_OBJECT]})
            one = check_handler.evaluation_request(tenant, Z.with_defaults(item, body))
            if one.approval:
                raise Z.BadRequest("an approval is used on /access/v1/evaluation, one at a "
                                   "time", {"context.approval": ["only on one evaluation"]})
            service.check_areas(g.caller, (one,))
        except (Z.BadRequest, Z.Unsupported, InvalidInput, Forbidden) as exc:
            # this one is denied, naming why; the others are answered (execute_all)
            answers.append({"decision": False, "context": {"reason": W.ERROR, "error": {
                "status": 403 if isinstance(exc, Forbidden) else 400,
                "message": getattr(exc, "message", str(exc)),
                "errors": getattr(exc, "errors", None) or {}, "index": number}}})
            continue
        answers.append(None)
        asked.append(one)
    codes = iter(service.answer([tuple(a) for a in asked], tenants={tenant}))
    revision = service.replica.revision(tenant)
    it = iter(asked)
    out = []
    for answer in answers:
        if answer is None:
            one = next(it)
            answer = _decision(next(codes), one, revision)
        out.append(answer)
        if semantic == "deny_on_first_deny" and not answer["decision"] \
                or semantic == "permit_on_first_permit" and answer["decision"]:
            break
    allowed = sum(1 for a in out if a["decision"])
    telemetry.count_decisions(allowed, len(out) - allowed)
    return _json({"evaluations": out}, revision)


# -- search ---------------------------------------------------------------------------
def _page(body: dict, digest: str) -> tuple[int, int | None]:
    """(offset, limit) of the page asked for. A token names the request it continues: a
    request changed mid-pagination is a 400 (the specification's SHOULD)."""
    page = body.get("page") or {}
    if not isinstance(page, dict):
        raise Z.BadRequest("page must be an object", {"page": [Z.NOT_OBJECT]})
    limit = page.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 0):
        raise Z.BadRequest("page.limit is a non-negative integer",
                           {"page.limit": ["a non-negative integer"]})
    if limit is not None:
        limit = min(limit, MAX_PAGE)
    token = page.get("token")
    if token in (None, ""):
        return 0, limit
    try:
        offset, made_for = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(offset, int) or offset < 0:
            raise ValueError
    except (ValueError, TypeError, AttributeError):
        raise Z.BadRequest("page.token is not one this PDP gave",
                           {"page.token": ["not a token of this PDP"]}) from None
    if made_for != digest:
        raise Z.BadRequest("the request changed since page.token was given: send it as it "
                           "was, or start again without a token",
                           {"page.token": ["the request changed"]})
    return offset, limit


def _digest(body: dict) -> str:
    """What a page token is bound to: the request but its token."""
    page = dict(body.get("page") or {}) if isinstance(body.get("page"), dict) else {}
    page.pop("token", None)
    canonical = json.dumps({**body, "page": page}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _search(kind: str, tenant: str | None):
    body = _body()
    tenant = _tenant(tenant)
    digest = _digest(body)
    offset, limit = _page(body, digest)
    service = current_app.extensions["authz"]
    try:
        item, product = Z.read(body, search=kind)
    except Z.Unsupported:
        return _json({"page": {"next_token": "", "count": 0, "total": 0}, "results": []})
    # the searched-for field, filled in by each candidate (access.search)
    if kind == "subject":
        item["subject"] = "owner"
    elif kind == "resource":
        item["store"] = "x"
    else:
        item["object"], item["action"] = Z.product_object("products", product), "x"
    asked = check_input.check_request(tenant, Z.checked(item, product))
    if asked.approval:
        raise Z.BadRequest("an approval is used on /access/v1/evaluation, not in a search",
                           {"context.approval": ["only on one evaluation"]})
    if kind != "action":
        service.check_areas(g.caller, (asked,))
    revision, found = access.search(service, g.caller, asked, kind)
    end = len(found) if limit is None else min(len(found), offset + limit)
    chosen = found[offset:end]
    # (a limit of 0 asks only how many: no page follows it)
    next_token = "" if end >= len(found) or limit == 0 else base64.urlsafe_b64encode(
        json.dumps([end, digest]).encode()).decode()
    results = [{"type": Z.USER, "id": x} if kind == "subject"
               else {"type": Z.STORE, "id": x} if kind == "resource" else {"name": x}
               for x in chosen]
    return _json({"page": {"next_token": next_token, "count": len(results),
                           "total": len(found)},
                  "context": {"revision": revision}, "results": results}, revision)


def search_subject(tenant: str | None = None):
    """Subject Search: every user allowed the action on the resource."""
    return _search("subject", tenant)


def search_resource(tenant: str | None = None):
    """Resource Search: every store where the subject is allowed the action."""
    return _search("resource", tenant)


def search_action(tenant: str | None = None):
    """Action Search: every permission the subject holds on the resource."""
    return _search("action", tenant)


# -- metadata -------------------------------------------------------------------------
def _metadata(base: str) -> dict:
    return {"policy_decision_point": base,
            "access_evaluation_endpoint": f"{base}{BASE}/evaluation",
            "access_evaluations_endpoint": f"{base}{BASE}/evaluations",
            "search_subject_endpoint": f"{base}{BASE}/search/subject",
            "search_resource_endpoint": f"{base}{BASE}/search/resource",
            "search_action_endpoint": f"{base}{BASE}/search/action"}


@discovery.route(WELL_KNOWN, methods=["GET"])
@discovery.response(200, AuthZenMetadata)
def metadata():
    """The PDP's metadata for the key-scoped base (the tenant is the key's)."""
    return _metadata(request.url_root.rstrip("/"))


@discovery.route(f"{WELL_KNOWN}/v1/tenants/<tenant>", methods=["GET"])
@discovery.response(200, AuthZenMetadata)
def tenant_metadata(tenant: str):
    """The PDP's metadata for one tenant's base, /v1/tenants/{tenant}."""
    if not R.IDENTIFIER.fullmatch(tenant):
        raise Z.BadRequest("no tenant can have this name", {"tenant": [check_input.BAD_IDENTIFIER]})
    return _metadata(f"{request.url_root.rstrip('/')}/v1/tenants/{tenant}")


def denied_on_error(reason: str | None = None) -> dict:
    """The answer when deciding failed: a deny (for a batch, one per evaluation)."""
    code = reason or W.ERROR
    denied = {"decision": False, "context": {"reason": code, "requires": None}}
    if request.path.endswith("/evaluations"):
        try:
            items = request.get_json(silent=True).get("evaluations")
        except AttributeError:
            items = None
        if isinstance(items, list) and items:
            return {"evaluations": [denied] * len(items)}
    return denied


def _route(path: str, view, request_schema, response_schema) -> None:
    """Route `view` undecorated (the hot path), documented as flask-smorest would."""
    documented = blp.doc(requestBody={"required": True, "content": {
        JSON: {"schema": request_schema}}})(blp.response(200, response_schema)(view))
    view._apidoc = documented._apidoc
    blp.route(path, methods=["POST"], endpoint=f"{view.__name__}_{path.count('<')}")(view)


_SEARCH = (AuthZenSearchRequest, AuthZenSearchResponse)
for _base in (BASE, TENANT_BASE):
    _route(f"{_base}/evaluation", evaluation, AuthZenEvaluationRequest,
           AuthZenEvaluationResponse)
    _route(f"{_base}/evaluations", evaluations, AuthZenEvaluationsRequest,
           AuthZenEvaluationsResponse)
    _route(f"{_base}/search/subject", search_subject, *_SEARCH)
    _route(f"{_base}/search/resource", search_resource, *_SEARCH)
    _route(f"{_base}/search/action", search_action, *_SEARCH)
