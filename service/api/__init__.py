"""The HTTP layer: blueprints, schemas and the error handlers, mounted on the app."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from . import check, errors, health, keys, policy, subaccounts
from .fast_check import FastCheck


def init_app(app: Flask) -> None:
    app.config.update(
        API_TITLE="Store authorization service",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
    )
    api = Api(app)
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for module in (check, policy, subaccounts, keys, health):
        api.register_blueprint(module.blp)
    errors.init_app(app)
    app.wsgi_app = FastCheck(app.wsgi_app, app, app.extensions["authz"])
