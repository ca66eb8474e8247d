"""The decision log (R19): what was decided, for whom, when, and by which rule."""

from __future__ import annotations

from flask_smorest import Blueprint

from ..schemas.access import UnusedGrants, UnusedQuery
from ..schemas.decision_log import DecisionPage, DecisionQuery
from ..usecases import decision_log
from .auth import authenticate, authz, caller

blp = Blueprint("decisions", __name__, url_prefix="/v1", description="The decision log (R19)")
blp.before_request(authenticate)


@blp.route("/tenants/<tenant>/decisions", methods=["GET"])
@blp.arguments(DecisionQuery, location="query")
@blp.response(200, DecisionPage)
def decisions(query: dict, tenant: str):
    """Logged decisions, newest first: every deny, every high-risk allow and a sample of
    other allows, each with the rule that decided it at its revision."""
    total, entries = decision_log.entries(authz(), caller(), tenant, query)
    return {"total": total, "page": query["page"], "per_page": query["per_page"],
            "entries": entries}


@blp.route("/tenants/<tenant>/unused-grants", methods=["GET"])
@blp.arguments(UnusedQuery, location="query")
@blp.response(200, UnusedGrants)
def unused_grants(query: dict, tenant: str):
    """Role grants and supplementary permissions that decided no logged allow in `days`."""
    return decision_log.unused_grants(authz(), caller(), tenant, query["days"])
