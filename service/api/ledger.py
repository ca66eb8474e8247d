"""The change ledger (R18): who changed what, when, why, before and after; verifiable."""

from __future__ import annotations

from flask_smorest import Blueprint

from ..schemas.ledger import LedgerPage, LedgerQuery, LedgerVerification
from ..usecases import ledger
from .auth import authenticate, authz, caller

blp = Blueprint("ledger", __name__, url_prefix="/v1", description="The change ledger (R18)")
blp.before_request(authenticate)


@blp.route("/tenants/<tenant>/ledger", methods=["GET"])
@blp.arguments(LedgerQuery, location="query")
@blp.response(200, LedgerPage)
def entries(query: dict, tenant: str):
    """The tenant's changes, newest first: filter by store, sub-account, actor and time."""
    total, page = ledger.page(authz(), caller(), tenant, query)
    return {"total": total, "page": query["page"], "per_page": query["per_page"],
            "entries": page}


@blp.route("/ledger/verify", methods=["GET"])
@blp.response(200, LedgerVerification)
def verify():
    """Recompute every hash chain (platform admin): the first broken entry of each."""
    result = ledger.verify(caller())
    return {"ok": result.ok, "entries": result.entries, "chains": result.chains,
            "broken": [vars(b) for b in result.broken]}
