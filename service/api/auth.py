"""Bearer-key authentication for the API blueprints."""

from __future__ import annotations

from flask import current_app, g, request

from ..domain.keys import Caller
from ..runtime.telemetry import TENANT
from ..usecases.authz import Authz


def authz() -> Authz:
    return current_app.extensions["authz"]


def authenticate() -> None:
    """before_request: catch up with the database, then identify the caller (401 if unknown)."""
    service = current_app.extensions["authz"]
    service.background.ensure_started()
    service.replica.catch_up()
    g.caller = service.replica.authenticate(request.headers.get("Authorization"))
    request.environ[TENANT] = (request.view_args or {}).get("tenant") or g.caller.tenant


def caller() -> Caller:
    return g.caller
