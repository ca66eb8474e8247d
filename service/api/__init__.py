"""The HTTP layer: blueprints, schemas and the error handlers, mounted on the app."""

from __future__ import annotations

from flask import Flask, request
from flask_smorest import Api

from ..telemetry import ROUTE, RequestLog
from . import (
    access,
    check,
    decisions,
    errors,
    health,
    keys,
    ledger,
    policy,
    policy_files,
    subaccounts,
)
from .fast_check import FastCheck


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
    for module in (check, policy, subaccounts, keys, policy_files, ledger, access, decisions,
                   health):
        api.register_blueprint(module.blp)
    errors.init_app(app)

    @app.before_request
    def label_request() -> None:
        """The route template for metrics and the request log (never the raw path)."""
        if request.url_rule is not None:
            request.environ[ROUTE] = request.url_rule.rule

    fast = app.extensions["fast_check"] = FastCheck(app.wsgi_app, app, app.extensions["authz"])
    app.wsgi_app = RequestLog(fast, app.config["AUTHZ_REQUEST_LOG"])
