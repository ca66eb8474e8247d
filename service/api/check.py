"""/check and /check/batch: the contract storefront services code against.

Bad input is a 4xx naming the field; anything that goes wrong while deciding is a deny.
"""

from __future__ import annotations

from flask_smorest import Blueprint

from ..domain.catalogue import PRODUCT_AREA
from ..domain.decisions import CheckRequest
from ..domain.errors import InvalidInput
from . import schemas
from .auth import authenticate, authz, principal

blp = Blueprint("check", __name__, description="Allow/deny decisions")
blp.before_request(authenticate)


def _request(tenant: str, body: dict) -> CheckRequest:
    area, _, product = body["object"].partition("/")
    return CheckRequest(
        tenant=tenant,
        subject=body["subject"],
        store=body["store"],
        area=PRODUCT_AREA if product else area,
        action=body["action"],
        second_factor=body["context"].get("second_factor", False),
        product=product,
    )


def _tenant(body: dict) -> str:
    return authz().check_tenant(principal(), body.get("tenant"))


@blp.after_request
def policy_headers(response):
    """Which revision answered, and how long since this worker last confirmed it is current
    (it keeps answering from its last state while the database is unreachable)."""
    replica = authz().replica
    response.headers["X-Policy-Revision"] = str(replica.revision)
    age = replica.staleness()
    if age is not None:
        response.headers["X-Policy-Age"] = f"{age:.3f}"
    return response


@blp.route("/check", methods=["POST"])
@blp.arguments(schemas.SingleCheck)
@blp.response(200, schemas.CheckResult)
def check(body: dict):
    """Is `subject` allowed `object`:`action` in `store`? Errors while deciding deny."""
    service = authz()
    request = _request(_tenant(body), body)
    service.replica.require(body.get("at_least_revision"),
                            service.settings["AUTHZ_CONSISTENCY_WAIT"])
    return {"allowed": service.decide(request), "revision": service.replica.revision}


@blp.route("/check/batch", methods=["POST"])
@blp.arguments(schemas.CheckBatch)
@blp.response(200, schemas.CheckBatchResult)
def check_batch(body: dict):
    """Up to AUTHZ_MAX_BATCH checks, answered in order, all at one revision."""
    service = authz()
    checks = body["checks"]
    limit = service.settings["AUTHZ_MAX_BATCH"]
    if not checks or len(checks) > limit:
        raise InvalidInput(f"checks must hold 1 to {limit} items",
                           {"checks": [f"1 to {limit} items"]})
    requests = [_request(_tenant(c), c) for c in checks]
    service.replica.require(body.get("at_least_revision"),
                            service.settings["AUTHZ_CONSISTENCY_WAIT"])
    results = [{"allowed": service.decide(r)} for r in requests]
    return {"results": results, "revision": service.replica.revision}

