"""The owner's Apps page (R21): the registered apps, install, and uninstall with the
cascade shown first. The same service operations as the API's /v1/tenants/{t}/apps."""

from __future__ import annotations

from flask import g, redirect, render_template, request, url_for

from ..usecases import apps
from . import bp
from .forms import FIELD_ERRORS, field_errors, saved, service, text
from .owner import owner_only


def _page(errors=None):
    return render_template("console/apps.html", apps=apps.available(
        service(), g.caller, g.caller.tenant), errors=errors or {})


@bp.get("/apps")
def apps_page():
    owner_only()
    return _page()


@bp.post("/apps/<app>/install")
def install_app(app: str):
    owner_only()
    try:
        revision, report = apps.install(service(), g.caller, g.caller.tenant, app,
                                        text("reason") or None)
    except FIELD_ERRORS as exc:
        return _page({app: field_errors(exc)})
    saved("apps.installed", app=app, revision=revision)
    return redirect(url_for("console.apps_page"))


@bp.route("/apps/<app>/uninstall", methods=["GET", "POST"])
def uninstall_app(app: str):
    owner_only()
    if request.method == "GET":
        _, report = apps.uninstall(service(), g.caller, g.caller.tenant, app, dry_run=True)
        return render_template("console/app_uninstall.html", app=app, report=report)
    revision, _ = apps.uninstall(service(), g.caller, g.caller.tenant, app,
                                 reason=text("reason") or None)
    saved("apps.uninstalled", app=app, revision=revision)
    return redirect(url_for("console.apps_page"))
