"""`@requires("orders:refund", store=...)` for storefront Flask views: 403 unless allowed.

    app.extensions["authz_client"] = AuthzClient(URL, token=TOKEN)
    app.config["AUTHZ_SUBJECT"] = lambda: session["staff_login"]   # who is asking

    @app.post("/stores/<store>/refunds/<rid>/approve")
    @requires("refunds:approve", store=lambda: request.view_args["store"],
              context=lambda: {"second_factor": session.get("mfa", False)})
    def approve(store, rid): ...
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from flask import abort, current_app, g

from . import AuthzClient

log = logging.getLogger(__name__)


def requires(permission: str, *, store: Callable[[], str],
             subject: Callable[[], str] | None = None,
             context: Callable[[], dict] | None = None,
             client: AuthzClient | None = None):
    """Deny with 403 unless the service allows `permission` ("area:action") in `store` for
    `subject` (default: app.config["AUTHZ_SUBJECT"]()). An error is a 403 too."""
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
                                       context() if context else None)
            except Exception as exc:  # noqa: BLE001 - a broken lambda must not let anyone in
                log.warning("authorization check could not be made: %s", exc)
                abort(403)
            g.authz_decision = decision
            if not decision.allowed:
                if decision.error:
                    log.warning("authorization denied by error: %s", decision.error)
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return decorate
