"""The auditor's pages (owner and audit keys): the store permission matrix with the reason
of every cell, the change ledger with its hash-chain status, the decision log, the export
and the diff of two revisions. All read-only; all the API's own queries."""

from __future__ import annotations

import math
from pathlib import Path

from flask import Response, g, render_template, request
from marshmallow import ValidationError

from ..domain import rules as R
from ..schemas.decision_log import DecisionQuery
from ..schemas.ledger import LedgerQuery
from ..schemas.policy_files import DiffQuery
from ..usecases import access as Q
from ..usecases import decision_log, ledger, policy_files
from . import bp
from .forms import service
from .owner import current_policy

PER_PAGE = 50


def _query(schema: type, defaults: dict | None = None) -> tuple[dict, dict]:
    """(the query the API would get, errors by field): an invalid filter is shown next to
    its box, and the page shows what the valid rest selects."""
    given = {k: v for k, v in request.args.items() if v and k != "why"}
    try:
        return schema().load({**(defaults or {}), **given}), {}
    except ValidationError as exc:
        bad = set(exc.messages)
        kept = {k: v for k, v in given.items() if k not in bad}
        return schema().load({**(defaults or {}), **kept}), {
            k: list(v) if isinstance(v, list) else [str(v)] for k, v in exc.messages.items()}


def _pages(total: int, per_page: int) -> int:
    return max(1, math.ceil(total / per_page))


@bp.get("/matrix")
def matrix():
    policy = current_policy()
    stores = sorted(policy.stores())
    store = request.args.get("store") or (stores[0] if stores else "")
    second_factor = request.args.get("second_factor") == "1"
    errors, subjects, cells, why = {}, [], {}, None
    if store and store not in stores:
        errors["store"] = ["no such store"]
    elif store:
        subjects, cells = Q.explained_matrix(service(), g.caller, g.caller.tenant, store,
                                             second_factor)
        subject, _, permission = request.args.get("why", "").partition("|")
        if subject in cells and permission in cells[subject]:
            why = {"subject": subject, "permission": permission,
                   "explanation": cells[subject][permission]}
    return render_template("console/matrix.html", stores=stores, store=store,
                           second_factor=second_factor, subjects=subjects, cells=cells,
                           permissions=list(service().catalogue(g.caller.tenant).permissions),
                           why=why,
                           errors=errors)


@bp.get("/ledger")
def ledger_page():
    query, errors = _query(LedgerQuery, {"per_page": PER_PAGE})
    total, entries = ledger.page(service(), g.caller, g.caller.tenant, query)
    chain = ledger.chain_status(g.caller, g.caller.tenant)
    # Another tenant's entry is named by nothing but "not this tenant's".
    return render_template("console/ledger.html", entries=entries, total=total,
                           page=query["page"], pages=_pages(total, query["per_page"]),
                           filters=request.args, errors=errors, chain=chain)


@bp.get("/decisions")
def decisions():
    query, errors = _query(DecisionQuery, {"per_page": PER_PAGE})
    total, entries = decision_log.entries(service(), g.caller, g.caller.tenant, query)
    return render_template("console/decisions.html", entries=entries, total=total,
                           page=query["page"], pages=_pages(total, query["per_page"]),
                           filters=request.args, errors=errors,
                           permissions=[p.name for p in
                                        service().catalogue(g.caller.tenant).permissions])


@bp.get("/files")
def files():
    authz = service()
    diff, errors = None, {}
    if "from" in request.args or "to" in request.args:
        try:
            query = DiffQuery().load({k: request.args.get(k, "")
                                              for k in ("from", "to")})
            diff = policy_files.diff(authz, g.caller, g.caller.tenant, query["start"],
                                  query["end"])
        except ValidationError as exc:
            errors = {k: list(v) for k, v in exc.messages.items()}
    return render_template("console/files.html", diff=diff, errors=errors,
                           filters=request.args, head=authz.replica.revision(g.caller.tenant))


@bp.get("/export.csv")
def export_csv():
    text = R.csv_text(current_policy().rules())
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{g.caller.tenant}-policy.csv"'})


@bp.get("/model.conf")
def model_conf():
    text = Path(service().settings.model_path).read_text()
    return Response(text, mimetype="text/plain", headers={
        "Content-Disposition": 'attachment; filename="model.conf"'})
