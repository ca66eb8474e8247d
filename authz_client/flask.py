"""`@requires("orders:refund", store=...)` for storefront Flask views: 403 unless allowed.

    app.extensions["authz_client"] = AuthzClient(URL, token=TOKEN)
    app.config["AUTHZ_SUBJECT"] = lambda: session["staff_login"]   # who is asking

    @app.post("/stores/<store>/refunds/<rid>/approve")
    @requires("refunds:approve", store=lambda: request.view_args["store"],
              context=lambda: {"second_factor": session.get("mfa", False)},
              amount=lambda: request.json["amount"],
              approval=lambda: request.json.get("approval"))
    def approve(store, rid): ...

A denial is a 403 whose JSON body says why and what would allow it - {"error":
"forbidden", "reason": "limit_exceeded", "requires": "approval"} - so the storefront's
page can ask for a second factor or offer "ask for approval" instead of failing; pass
`on_deny` to answer otherwise. The decision is on `g.authz_decision` either way.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from flask import abort, current_app, g, jsonify

from . import AuthzClient, Decision

log = logging.getLogger(__name__)


def denied(decision: Decision):
    """The default answer to a denial: 403 with the reason and what would allow it."""
    response = jsonify({"error": "forbidden", "reason": decision.reason,
                        "requires": decision.requires})
    response.status_code = 403
    return response


def requires(permission: str, *, store: Callable[[], str],
             subject: Callable[[], str] | None = None,
             context: Callable[[], dict] | None = None,
             amount: Callable[[], object] | None = None,
             approval: Callable[[], str | None] | None = None,
             client: AuthzClient | None = None,
             on_deny: Callable[[Decision], object] = denied):
    """Deny (`on_deny`, a 403 by default) unless the service allows `permission`
    ("area:action") in `store` for `subject` (default: app.config["AUTHZ_SUBJECT"]()),
    with the `amount` the action moves (R22) and the `approval` it uses (R24), when given.
    An error is a denial too: one that no second factor or approval can lift."""
    area, sep, action = permission.partition(":")
    if not sep:
        raise ValueError(f"permission must be 'area:action', not {permission!r}")

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            authz = client or current_app.extensions["authz_client"]
            try:
                who = (subject or current_app.config["AUTHZ_SUBJECT"])()
                decision = authz.check(who, store(), area, action,
                                       context() if context else None,
                                       amount=amount() if amount else None,
                                       approval=approval() if approval else None)
            except Exception as exc:  # noqa: BLE001 - a broken lambda must not let anyone in
                log.warning("authorization check could not be made: %s", exc)
                abort(403)
            g.authz_decision = decision
            if not decision.allowed:
                if decision.error:
                    log.warning("authorization denied by error: %s", decision.error)
                    abort(403)
                return on_deny(decision)
            return view(*args, **kwargs)

        return guarded

    return decorate
