"""The HTTP layer: blueprints, schemas and the error handlers, mounted on the app."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_smorest import Blueprint
from marshmallow import RAISE

from ..domain.errors import InvalidInput
from ..runtime import tracing
from ..runtime.telemetry import ROUTE, RequestLog
from . import (
    access,
    approvals,
    apps,
    authzen,
    check,
    errors,
    health,
    keys,
    ledger,
    policy,
    policy_files,
    subaccounts,
)
from . import (
    decision_log as decisions,
)
from .fast_check import FastCheck
from .lazy_api import Api

# webargs ignores unknown query parameters by default; here they are errors, like unknown
# fields in a body, on every route (the parser is shared by every blueprint).
Blueprint.ARGUMENTS_PARSER.DEFAULT_UNKNOWN_BY_LOCATION = {
    **Blueprint.ARGUMENTS_PARSER.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE,
    "querystring": RAISE}


def init_app(app: Flask) -> None:
    app.config.update(
        API_TITLE="Store authorization service",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        # A docs page over /openapi.json (ReDoc, loaded by the reader's browser).
        OPENAPI_REDOC_PATH="docs",
        OPENAPI_REDOC_URL="https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js",
    )
    api = Api(app)
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for module in (check, authzen, policy, subaccounts, keys, apps, approvals, policy_files,
                   ledger, access, decisions, health):
        api.register_blueprint(module.blp)
    api.register_blueprint(authzen.discovery)
    errors.init_app(app)

    @app.before_request
    def label_request() -> None:
        """The route template for metrics and the request log (never the raw path)."""
        if request.url_rule is not None:
            request.environ[ROUTE] = request.url_rule.rule

    @app.before_request
    def refuse_unexpected_query() -> None:
        """A misspelled filter must not answer unfiltered: on an API route that takes no
        query parameters, any is a 422 (those that take some refuse unknown ones)."""
        if not request.args or request.blueprint in (None, "console"):
            return
        view = current_app.view_functions.get(request.endpoint)
        parameters = getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", [])
        if not any(p.get("in") == "query" for p in parameters):
            raise InvalidInput("this route takes no query parameters",
                               {"query": {name: ["Unknown field."] for name in request.args}})

    fast = app.extensions["fast_check"] = FastCheck(app.wsgi_app, app, app.extensions["authz"])
    app.wsgi_app = app.extensions["request_log"] = RequestLog(fast,
                                                              app.config["AUTHZ_REQUEST_LOG"])
    if tracing.enabled():  # (off: the request path is not wrapped at all)
        app.wsgi_app = tracing.Traced(app.wsgi_app, ROUTE)
