"""The Approvals page (R24): the queue of pending requests, which the owner approves or
rejects, and the decided ones below for the record; the owner's approval modes. The same
service operations as the API's /v1/tenants/{t}/approvals. Auditors see it read-only."""

from __future__ import annotations

from flask import g, redirect, render_template, url_for

from ..domain import approvals as AP
from ..usecases import approvals
from . import bp
from .forms import FIELD_ERRORS, field_errors, saved, service, text
from .owner import owner_only


def _page(errors=None):
    tenant = g.caller.tenant
    query = {"page": 1, "per_page": 100}
    _, pending = approvals.find(service(), g.caller, tenant, {**query, "state": AP.PENDING})
    _, recent = approvals.find(service(), g.caller, tenant, query)
    return render_template("console/approvals.html", pending=pending,
                           decided=[a for a in recent if a["state"] != AP.PENDING],
                           modes=approvals.modes(service(), g.caller, tenant),
                           errors=errors or {})


@bp.get("/approvals")
def approvals_page():
    return _page()


@bp.post("/approvals/<approval_id>/decision")
def decide_approval(approval_id: str):
    owner_only()
    approve = text("decision") == "approve"
    try:
        revision, _ = approvals.decide(service(), g.caller, g.caller.tenant, approval_id,
                                       None, approve, text("note"))
    except FIELD_ERRORS as exc:
        return _page({approval_id: field_errors(exc)})
    saved("approvals.approved" if approve else "approvals.rejected", id=approval_id,
          revision=revision)
    return redirect(url_for("console.approvals_page"))
