"""The Approvals page (R24): the queue of pending requests, which the owner approves or
rejects, and the decided ones below for the record; the owner's approval modes. The same
service operations as the API's /v1/tenants/{t}/approvals. Auditors see it read-only.
Amounts are shown in their store's currency and times in the viewer's own time with how
long until (or since) each (console.js, in the page's language; the server's text, in
UTC, without script)."""

from __future__ import annotations

from flask import g, redirect, render_template, url_for

from ..domain import approvals as AP
from ..domain.policy_admin import DEFAULT_CURRENCY
from ..usecases import approvals
from . import bp
from .forms import FIELD_ERRORS, field_errors, saved, service, text
from .owner import owner_only


def _instant(text: str | None) -> str | None:
    """An instant as kept (tenant_policy.expiry_text, to the microsecond) as browsers parse
    it: ISO 8601 to the millisecond, in UTC. The page shows it in the viewer's time."""
    return None if not text else f"{text[:23]}Z"


def _page(errors=None):
    tenant = g.caller.tenant
    query = {"page": 1, "per_page": 100}
    _, pending = approvals.find(service(), g.caller, tenant, {**query, "state": AP.PENDING})
    _, recent = approvals.find(service(), g.caller, tenant, query)
    currencies = service().read(g.caller, tenant).directory.currencies
    for found in pending + recent:  # each amount in its store's currency (R22)
        found["currency"] = currencies.get(found["store"], DEFAULT_CURRENCY)
        for key in ("expires_at", "decided_at", "requested_at"):
            found[f"{key}_iso"] = _instant(found.get(key))
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
