"""Policy files (R20): lint, import with a dry run, diff of two revisions."""

from __future__ import annotations

from flask_smorest import Blueprint

from ..schemas.policy_files import (
    Diff,
    DiffQuery,
    ImportPlan,
    ImportRequest,
    LintReport,
    PolicyFile,
)
from ..usecases import policy_files
from .auth import authenticate, authz, caller

blp = Blueprint("policy_files", __name__, url_prefix="/v1",
                description="Policy files: lint, import, diff (R20)")
blp.before_request(authenticate)


@blp.route("/tenants/<tenant>/lint", methods=["POST"])
@blp.arguments(PolicyFile)
@blp.response(200, LintReport)
def lint(body: dict, tenant: str):
    """Findings for a policy file meant for this tenant: invalid lines, rules of another
    tenant, owner-only grants, a missing owner rule, roles nobody holds, denies that
    shadow nothing, stores the file does not declare. Changes nothing."""
    return {"findings": policy_files.lint(caller(), tenant, body["csv"])}


@blp.route("/tenants/<tenant>/import", methods=["POST"])
@blp.arguments(ImportRequest)
@blp.response(200, ImportPlan)
def import_policy(body: dict, tenant: str):
    """Make the tenant's rules exactly the file's. With dry_run (the default): the rules
    that would be added and removed and the decisions that would change. Without: the
    same, applied as one revision, all or nothing. Any lint error refuses the file."""
    return policy_files.import_policy(authz(), caller(), tenant, body["csv"],
                                   dry_run=body["dry_run"], reason=body.get("reason"),
                                   directory=body.get("directory"))


@blp.route("/tenants/<tenant>/diff", methods=["GET"])
@blp.arguments(DiffQuery, location="query")
@blp.response(200, Diff)
def diff(query: dict, tenant: str):
    """The rules added and removed between two revisions (`from`, `to`), from the log."""
    return policy_files.diff(authz(), caller(), tenant, query["start"], query["end"])
