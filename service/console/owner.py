"""The owner's pages: sub-accounts, departments, role templates, stores, batch assignment
with a preview, store revocation with a preview of the cascade, settings. Each write is the
API's: the same schema checks the form, the same domain function edits the policy."""

from __future__ import annotations

import math

from flask import g, redirect, render_template, request, url_for
from marshmallow import ValidationError

from ..domain import catalogue
from ..domain import policy_admin as A
from ..domain import subaccounts as S
from ..domain.errors import Forbidden, Unauthorized
from ..schemas.policy import Grant, NewRole, NewStore, Stores
from ..schemas.subaccounts import (
    BatchStores,
    NewDepartment,
    NewSubAccount,
    Profile,
    SubAccountQuery,
)
from ..usecases import policy_edits, tenant_admin
from ..usecases import subaccounts as subaccount_edits
from . import bp, i18n, signin
from .forms import (
    EMPTY,
    FIELD_ERRORS,
    Call,
    Checked,
    commit,
    field_errors,
    invalid,
    listed,
    optional,
    saved,
    service,
    text,
    write_or_show,
)

PER_PAGE = 50


def owner_only() -> None:
    if g.caller.scope != "owner":
        raise Forbidden("only the owner key changes the policy")


def current_policy():
    """The committed policy of the signed-in tenant (owner and audit keys may read it)."""
    return service().read(g.caller, g.caller.tenant)


def _local(path: str | None) -> str | None:
    """Only a path inside the console may be a redirect target (and never one with a
    control character: a CR/LF would split the Location header)."""
    if not path or not path.startswith("/console") or path.startswith("//") \
            or any(ord(c) < 32 or ord(c) == 127 for c in path):
        return None
    return path


# -- signing in ----------------------------------------------------------------------------
@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("console/login.html", errors={}, form=EMPTY,
                               next=_local(request.args.get("next")))
    if not signin.csrf_ok():
        return render_template("console/login.html", form=EMPTY, next=None,
                               errors={"_": [i18n.translate(g.lang, "error.csrf")]}), 400
    try:
        signin.sign_in(request.form.get("token", ""))
    except FIELD_ERRORS + (Forbidden,) as exc:
        return invalid("console/login.html", exc, next=_local(request.form.get("next")))
    except Unauthorized as exc:  # say so next to the field, never which part was wrong
        return render_template("console/login.html", form=EMPTY, next=None,
                               errors={"token": [exc.message]})
    return redirect(_local(request.form.get("next")) or url_for("console.home"))


@bp.post("/logout")
def logout():
    signin.sign_out()
    saved("login.signed_out")
    return redirect(url_for("console.login"))


@bp.post("/language")
def language():
    if signin.csrf_ok() and request.form.get("lang") in i18n.CATALOGUES:
        signin.session["lang"] = request.form["lang"]
    return redirect(_local(request.form.get("next")) or url_for("console.home"))


@bp.get("/")
def home():
    return redirect(url_for("console.subaccounts" if g.caller.scope == "owner"
                            else "console.matrix"))


# -- sub-accounts --------------------------------------------------------------------------
@bp.get("/subaccounts")
def subaccounts():
    owner_only()
    policy = current_policy()
    errors = {}
    try:
        query = SubAccountQuery().load({k: v for k, v in request.args.items() if v})
    except ValidationError as exc:
        errors, query = {k: list(v) for k, v in exc.messages.items()}, {"page": 1}
    items = S.listing(policy, status=query.get("status"), store=query.get("store"),
                      department=query.get("department"), q=query.get("q"))
    pages = max(1, math.ceil(len(items) / PER_PAGE))
    page = min(query.get("page", 1), pages)
    return render_template(
        "console/subaccounts.html", items=items[(page - 1) * PER_PAGE: page * PER_PAGE],
        total=len(items), page=page, pages=pages, filters=request.args, errors=errors,
        stores=sorted(policy.stores()), departments=policy.directory.departments,
        count=len(policy.directory.accounts), limit=policy.directory.settings.max_sub_accounts)


def _new_form(policy, **context):
    return {"stores": sorted(policy.stores()), "departments": policy.directory.departments,
            "roles": sorted(policy.roles()), "count": len(policy.directory.accounts),
            "limit": policy.directory.settings.max_sub_accounts, **context}


@bp.route("/subaccounts/new", methods=["GET", "POST"])
def new_subaccount():
    owner_only()
    policy = current_policy()
    if request.method == "GET":
        return render_template("console/subaccount_new.html", errors={}, form=EMPTY,
                               **_new_form(policy))
    stores = listed("stores")
    body = optional({"login": text("login"), "display_name": text("display_name"),
                     "email": text("email"), "stores": stores,
                     "departments": listed("departments"),
                     "roles": [{"role": r, "stores": stores} for r in listed("roles")]},
                    phone=text("phone"), note=text("note"), reason=text("reason"))
    try:
        body = NewSubAccount().load(body)
        revision, _ = commit(Call(subaccount_edits.create, body["login"], body["stores"], body,
                                  body["departments"], body["roles"]), body.get("reason"))
    except FIELD_ERRORS as exc:
        return invalid("console/subaccount_new.html", exc, **_new_form(policy))
    saved("sub.created", login=body["login"], revision=revision)
    return redirect(url_for("console.subaccount", login=body["login"]))


def _account_page(login: str, **context):
    policy = current_policy()
    view = S.view(policy, login)
    return render_template(
        "console/subaccount.html", account=view, stores=sorted(policy.stores()),
        departments=policy.directory.departments, roles=sorted(policy.roles()),
        errors=context.pop("errors", {}), form=context.pop("form", EMPTY), **context)


@bp.get("/subaccounts/<login>")
def subaccount(login: str):
    owner_only()
    return _account_page(login)


def _account_write(login: str, section: str, edit):
    return write_or_show(edit, section,
                         lambda errors, form: _account_page(login, errors=errors, form=form),
                         url_for("console.subaccount", login=login) + f"#{section}")


@bp.post("/subaccounts/<login>/profile")
def subaccount_profile(login: str):
    owner_only()
    # Every field of the form is sent as it stands: a box the user emptied is a change
    # (a cleared phone), or an error at that field (a name or email cannot be blank).
    body = optional({"display_name": text("display_name"), "email": text("email"),
                     "phone": text("phone"), "note": request.form.get("note", "")},
                    reason=text("reason"))
    return _account_write(login, "profile", Checked(
        Profile(), body, lambda changes: Call(subaccount_edits.update_profile, login, changes)))


@bp.post("/subaccounts/<login>/status")
def subaccount_status(login: str):
    owner_only()
    disabled = request.form.get("disabled") == "1"
    return _account_write(login, "status", Call(subaccount_edits.set_disabled, login, disabled))


@bp.post("/subaccounts/<login>/stores")
def subaccount_stores(login: str):
    owner_only()
    stores, default = listed("stores"), text("default_store")

    def make(loaded):
        return Call(subaccount_edits.set_stores, login, loaded["stores"],
                    default if default and default in stores else None)

    return _account_write(login, "stores", Checked(Stores(), {"stores": stores}, make))


@bp.post("/subaccounts/<login>/grants")
def subaccount_grant(login: str):
    owner_only()
    return _grant({"subject": login}, lambda edit: _account_write(login, "grants", edit))


@bp.post("/subaccounts/<login>/grants/revoke")
def subaccount_revoke(login: str):
    owner_only()
    stores = A.ALL_STORES if text("stores") == A.ALL_STORES else listed("stores")
    return _account_write(login, "grants", Call(
        policy_edits.revoke_role, A.grantee(login, None), text("role"), stores))


def _grant(who: dict, write):
    """A role grant from the grant form, to a sub-account or a department (`who`)."""
    stores = A.ALL_STORES if request.form.get("all_stores") else listed("stores")
    body = optional({**who, "role": text("role"), "stores": stores},
                    expires_at=text("expires_at"), reason=text("reason"))

    def make(loaded):
        return Call(policy_edits.grant_role,
                    A.grantee(loaded.get("subject"), loaded.get("department")),
                    loaded["role"], loaded["stores"], loaded.get("expires_at"))

    return write(Checked(Grant(), body, make))


@bp.post("/subaccounts/<login>/departments")
def subaccount_departments(login: str):
    owner_only()
    wanted = set(listed("departments"))

    return _account_write(login, "departments",
                          Call(subaccount_edits.set_departments, login, sorted(wanted)))


# -- departments ---------------------------------------------------------------------------
def _departments_page(errors=None, form=None):
    policy = current_policy()
    summary = A.describe(policy)
    tree = [{"id": d, "name": name, "members": S.members(policy, d),
             "grants": [x for x in summary["grants"] if x.get("department") == d]}
            for d, name in sorted(policy.directory.departments.items())]
    return render_template("console/departments.html", tree=tree,
                           accounts=sorted(policy.directory.accounts), roles=sorted(
                               policy.roles()), stores=sorted(policy.stores()),
                           errors=errors or {}, form=form or EMPTY)


@bp.get("/departments")
def departments():
    owner_only()
    return _departments_page()


def _departments_write(section: str, edit):
    return write_or_show(edit, section, _departments_page, url_for("console.departments"))


@bp.post("/departments")
def create_department():
    owner_only()
    body = {"department": text("department"), "name": text("name")}

    return _departments_write("new", Checked(
        NewDepartment(), body,
        lambda loaded: Call(policy_edits.create_department, loaded["department"],
                            loaded["name"])))


@bp.post("/departments/<department>/members")
def add_member(department: str):
    owner_only()
    login = text("login")
    return _departments_write(department, Call(subaccount_edits.join, department, login))


@bp.post("/departments/<department>/members/<login>/remove")
def remove_member(department: str, login: str):
    owner_only()
    return _departments_write(department, Call(subaccount_edits.leave, department, login))


@bp.post("/departments/<department>/grants")
def department_grant(department: str):
    owner_only()
    return _grant({"department": department},
                  lambda edit: _departments_write(department, edit))


# -- role templates ------------------------------------------------------------------------
def catalogue_by_area(language: str, known: catalogue.Catalogue = catalogue.BUILT_IN
                      ) -> list[dict]:
    """The tenant's catalogue grouped by area, in catalogue order (the built-in areas, then
    each installed app's, labelled with the app), in the page's language. A deprecated app
    permission is shown only where it is still held (it is no longer grantable)."""
    areas: dict[str, list] = {}
    for p in known.permissions:
        areas.setdefault(p.area, []).append(
            {"name": p.name, "description": i18n.describe(language, p),
             "high_risk": p.high_risk, "owner_only": p.owner_only,
             "per_product": p.per_product, "deprecated": p.deprecated})
    return [{"area": a, "app": catalogue.app_of(a),
             "label": i18n.area(language, a) if catalogue.app_of(a) is None
             else f"{catalogue.app_of(a)} · {a.partition('.')[2]}", "permissions": ps}
            for a, ps in areas.items()]


def _roles_page(errors=None, form=None):
    policy = current_policy()
    holders = {r: len(A.role_holders(policy, r)) for r in policy.roles()}
    return render_template("console/roles.html", roles=sorted(policy.roles().items()),
                           holders=holders, areas=catalogue_by_area(g.lang, policy.catalogue),
                           errors=errors or {}, form=form or EMPTY)


@bp.get("/roles")
def roles():
    owner_only()
    return _roles_page()


def _roles_write(section: str, edit):
    return write_or_show(edit, section, _roles_page,
                         url_for("console.roles") + f"#role-{section}")


@bp.post("/roles")
def create_role():
    owner_only()
    body = {"role": text("role"), "permissions": listed("permissions")}

    return _roles_write("new", Checked(
        NewRole(), body,
        lambda loaded: Call(policy_edits.create_role, loaded["role"],
                            loaded["permissions"])))


@bp.post("/roles/<role>")
def set_role(role: str):
    owner_only()
    permissions = listed("permissions")
    return _roles_write(role, Call(policy_edits.set_role_permissions, role, permissions))


@bp.post("/roles/<role>/delete")
def delete_role(role: str):
    owner_only()
    return _roles_write(role, Call(policy_edits.delete_role, role))


# -- stores, batch assignment, revocation ---------------------------------------------------
def _stores_page(errors=None, form=None):
    policy = current_policy()
    assigned = {s: [login for login in sorted(policy.directory.accounts)
                    if s in A.assigned_stores(policy, login)] for s in policy.stores()}
    return render_template("console/stores.html", stores=sorted(policy.stores()),
                           assigned=assigned,
                           modes={s: S.store_mode(policy, s) for s in policy.stores()},
                           errors=errors or {}, form=form or EMPTY)


@bp.get("/stores")
def stores():
    owner_only()
    return _stores_page()


@bp.post("/stores")
def create_store():
    owner_only()
    body = {"store": text("store")}
    return write_or_show(Checked(NewStore(), body,
                                 lambda loaded: Call(policy_edits.create_store,
                                                     loaded["store"])),
                         "new", _stores_page, url_for("console.stores"))


@bp.route("/stores/<store>/revoke", methods=["GET", "POST"])
def revoke_store(store: str):
    owner_only()
    if request.method == "GET":
        _, report = policy_edits.revoke_store.preview(service(), g.caller, g.caller.tenant,
                                                      store)
        return render_template("console/revoke.html", store=store, report=report)
    revision, _ = commit(Call(policy_edits.revoke_store, store), text("reason") or None)
    saved("store.revoked", store=store, revision=revision)
    return redirect(url_for("console.stores"))


def _batch_page(errors=None, form=None, report=None):
    policy = current_policy()
    return render_template("console/batch.html", accounts=S.listing(policy),
                           stores=sorted(policy.stores()), modes=S.BATCH_MODES,
                           errors=errors or {}, form=form or EMPTY, report=report)


@bp.route("/batch", methods=["GET", "POST"])
def batch():
    owner_only()
    if request.method == "GET":
        return _batch_page()
    body = {"mode": text("mode"), "subjects": listed("subjects"), "stores": listed("stores")}
    if text("reason"):
        body["reason"] = text("reason")
    try:
        loaded = BatchStores().load(body)

        if request.form.get("action") != "apply":
            _, report = policy_edits.batch_assign.preview(
                service(), g.caller, g.caller.tenant, loaded["mode"], loaded["subjects"],
                loaded["stores"])
            return _batch_page(form=request.form, report=report)
        revision, report = commit(Call(policy_edits.batch_assign, loaded["mode"],
                                       loaded["subjects"], loaded["stores"]),
                                  loaded.get("reason"))
    except FIELD_ERRORS as exc:
        return _batch_page(field_errors(exc), request.form)
    saved("batch.applied", count=len(report["subjects"]), revision=revision)
    return redirect(url_for("console.subaccounts"))


# -- settings ------------------------------------------------------------------------------
@bp.route("/settings", methods=["GET", "POST"])
def settings():
    owner_only()
    if request.method == "POST":
        language, step_up = text("language"), request.form.get("step_up") == "1"
        try:  # the API's use case: the owner's settings, never the cap (R11)
            revision, _ = tenant_admin.update_settings(
                service(), g.caller, g.caller.tenant,
                {"language": language, "step_up": step_up, "reason": text("reason") or None})
        except FIELD_ERRORS as exc:
            policy = current_policy()
            return render_template("console/settings.html", policy=policy,
                                   step_up=S.step_up_enabled(policy),
                                   errors=field_errors(exc), form=request.form)
        signin.session.pop("lang", None)  # show the tenant's choice at once
        g.lang = language
        saved("common.saved", revision=revision)
        return redirect(url_for("console.settings"))
    policy = current_policy()
    return render_template("console/settings.html", policy=policy,
                           step_up=S.step_up_enabled(policy), errors={}, form=EMPTY)

