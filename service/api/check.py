"""/check and /check/batch: the contract storefront services code against.

Bad input is a 4xx naming the field; anything that goes wrong while deciding is a deny.
"""

from __future__ import annotations

import json

from flask import Response, request
from flask_smorest import Blueprint

from . import check_input, schemas
from .auth import authenticate, authz, principal

JSON = "application/json"
blp = Blueprint("check", __name__, description="Allow/deny decisions")
blp.before_request(authenticate)

# The bodies are read by check_input (the hot path); these schemas document them.
_DOC_SINGLE = {"required": True, "content": {"application/json": {"schema": schemas.SingleCheck}}}
_DOC_BATCH = {"required": True, "content": {"application/json": {"schema": schemas.CheckBatch}}}


def _tenant(body: dict) -> str:
    return authz().check_tenant(principal(), body.get("tenant"))


def _body() -> object:
    """The JSON body: 400 if it is not JSON, None if no JSON was sent."""
    return request.get_json(silent=False) if request.is_json else None


def _answer(payload: dict, replica) -> Response:
    """The JSON answer, serialised here rather than by the documented schema (the hot path),
    with the revision that answered and how long since this worker last confirmed it is
    current (it keeps answering from its last state while the database is unreachable)."""
    response = Response(json.dumps(payload, separators=(",", ":")), mimetype=JSON)
    response.headers["X-Policy-Revision"] = str(replica.revision)
    age = replica.staleness()
    if age is not None:
        response.headers["X-Policy-Age"] = f"{age:.3f}"
    return response


@blp.route("/check", methods=["POST"])
@blp.doc(requestBody=_DOC_SINGLE)
@blp.response(200, schemas.CheckResult)
def check():
    """Is `subject` allowed `object`:`action` in `store`? Errors while deciding deny."""
    service = authz()
    body, revision = check_input.read_single(_body())
    decision = check_input.check_request(_tenant(body), body)
    replica = service.replica
    replica.require(revision, service.settings["AUTHZ_CONSISTENCY_WAIT"])
    return _answer({"allowed": service.decide(decision), "revision": replica.revision}, replica)


@blp.route("/check/batch", methods=["POST"])
@blp.doc(requestBody=_DOC_BATCH)
@blp.response(200, schemas.CheckBatchResult)
def check_batch():
    """Up to AUTHZ_MAX_BATCH checks, answered in order, all at one revision."""
    service = authz()
    checks, revision = check_input.read_batch(_body(), service.settings["AUTHZ_MAX_BATCH"])
    decisions = [check_input.check_request(_tenant(c), c) for c in checks]
    replica = service.replica
    replica.require(revision, service.settings["AUTHZ_CONSISTENCY_WAIT"])
    decide = service.decide
    return _answer({"results": [{"allowed": decide(d)} for d in decisions],
                    "revision": replica.revision}, replica)
