"""Approvals (R24): the owner's modes, requests, decisions and the queue. /check uses an
approved request (context.approval: api/check.py)."""

from __future__ import annotations

from flask_smorest import Blueprint

from ..schemas.approvals import (
    Approval,
    ApprovalAnswer,
    ApprovalDecision,
    ApprovalMode,
    ApprovalModes,
    ApprovalPage,
    ApprovalQuery,
    NewApproval,
)
from ..schemas.base import Revision
from ..usecases import approvals
from .auth import authenticate, authz, caller

blp = Blueprint("approvals", __name__, url_prefix="/v1",
                description="Approvals: a second person for high-risk or over-limit actions "
                            "(R24)")
blp.before_request(authenticate)


@blp.route("/tenants/<tenant>/approval-modes", methods=["GET"])
@blp.response(200, ApprovalModes)
def get_modes(tenant: str):
    """Which permissions need an approval, and when."""
    return {"modes": approvals.modes(authz(), caller(), tenant)}


@blp.route("/tenants/<tenant>/approval-modes/<permission>", methods=["PUT"])
@blp.arguments(ApprovalMode)
@blp.response(200, Revision)
def set_mode(body: dict, tenant: str, permission: str):
    """When an action needs a second person: never, over the requester's limit, always."""
    return {"revision": approvals.set_mode(authz(), caller(), tenant, permission,
                                           body["mode"], body.get("reason"))}


@blp.route("/tenants/<tenant>/approvals", methods=["POST"])
@blp.arguments(NewApproval)
@blp.response(201, ApprovalAnswer)
def file(body: dict, tenant: str):
    """File a request for a sub-account's action: possible exactly when /check of that
    action answers `requires: approval`. Approved, it allows the action once."""
    revision, approval = approvals.file(authz(), caller(), tenant, body)
    return {**approval, "revision": revision}


@blp.route("/tenants/<tenant>/approvals", methods=["GET"])
@blp.arguments(ApprovalQuery, location="query")
@blp.response(200, ApprovalPage)
def find(query: dict, tenant: str):
    """The tenant's requests, newest first (owner, auditor), or an approver's queue."""
    total, items = approvals.find(authz(), caller(), tenant, query)
    return {"items": items, "total": total, "page": query["page"],
            "per_page": query["per_page"]}


@blp.route("/tenants/<tenant>/approvals/<approval_id>", methods=["GET"])
@blp.response(200, Approval)
def get(tenant: str, approval_id: str):
    """One request and what became of it."""
    return approvals.get(authz(), caller(), tenant, approval_id)


@blp.route("/tenants/<tenant>/approvals/<approval_id>/decision", methods=["POST"])
@blp.arguments(ApprovalDecision)
@blp.response(200, ApprovalAnswer)
def decide(body: dict, tenant: str, approval_id: str):
    """Approve or reject, as the owner or on behalf of an approver (never the requester)."""
    revision, approval = approvals.decide(authz(), caller(), tenant, approval_id,
                                          body.get("approver"), body["approve"],
                                          body["note"])
    return {**approval, "revision": revision}
