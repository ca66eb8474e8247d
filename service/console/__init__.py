"""The admin console: server-rendered pages for owners (manage sub-accounts, roles, stores)
and auditors (matrix, ledger, decision log, export, diff), at /console.

It is a client of the same service layer as the API: reads go through the same queries,
writes through Authz.write with the signed-in key as the actor, so the ledger, the
propagation to other workers and every rule check are the API's own.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from ..domain.accounts import LANGUAGES
from ..domain.errors import ServiceError
from ..schemas.errors import status_of
from . import i18n, signin

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")

PUBLIC = {"console.login", "console.static", "console.language"}
# Scripts and styles come from this origin only (no inline code): a page cannot be made to
# run injected script, and nothing is loaded from elsewhere.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def init_app(app: Flask) -> None:
    from . import approvals, apps, audit, owner  # noqa: F401 - they add their routes to bp

    app.secret_key = app.config["AUTHZ_SESSION_SECRET"]
    app.config.update(
        SESSION_COOKIE_NAME="authz_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["AUTHZ_MODE"] == "production",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=app.config["AUTHZ_SESSION_HOURS"]),
    )
    app.register_blueprint(bp)


@bp.before_request
def identify():
    g.caller = signin.current()
    g.lang = _language()
    if request.endpoint in PUBLIC:
        return None
    if g.caller is None:
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")
                                if request.method == "GET" else None))
    if request.method == "POST" and not signin.csrf_ok():
        return error_page(400, i18n.translate(g.lang, "error.csrf"))
    return None


def _language() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    if getattr(g, "caller", None) is not None:
        try:
            return current_app.extensions["authz"].tenant_language(g.caller.tenant)
        except ServiceError:
            pass
    return LANGUAGES[0]


@bp.after_request
def secure(response):
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_global()
def t(key: str, **values) -> str:
    return i18n.translate(g.get("lang", LANGUAGES[0]), key, **values)


@bp.app_template_global()
def csrf_token() -> str:
    return signin.csrf_token()


@bp.app_template_global()
def query_with(args, **changes) -> str:
    """The query string `args` with `changes` (None drops a key): pagers and matrix links
    keep the filters the page was opened with."""
    merged = {k: v for k, v in args.items() if k not in changes}
    merged.update({k: v for k, v in changes.items() if v is not None})
    return urlencode(merged)


@bp.app_template_filter("dept_name")
def dept_name(department: str, names: dict) -> str:
    return names.get(department, department)


@bp.context_processor
def page_globals() -> dict:
    caller = g.get("caller")
    return {"caller": caller, "lang": g.get("lang", LANGUAGES[0]),
            "languages": LANGUAGES,
            "is_owner": caller is not None and caller.scope == "owner"}


def error_page(status: int, message: str):
    return render_template("console/error.html", message=message), status


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError):
    status = status_of(exc)
    key = {403: "error.forbidden", 404: "error.not_found", 503: "error.unavailable"}.get(
        status)
    return error_page(status, i18n.translate(g.get("lang", "en"), key) if key
                      else exc.message)
