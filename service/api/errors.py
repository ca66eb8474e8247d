"""One JSON error shape for every failure: {code, status, message, errors}."""

from __future__ import annotations

import logging

from flask import Flask, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import InternalServerError

from ..domain.errors import ServiceError
from . import check

log = logging.getLogger(__name__)

_STATUS_NAMES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                 409: "Conflict", 422: "Unprocessable Entity", 503: "Service Unavailable"}


def payload(status: int, message: str, errors: dict | None = None) -> dict:
    body = {"code": status, "status": _STATUS_NAMES.get(status, "Error"), "message": message}
    if errors:
        body["errors"] = errors
    return body


def init_app(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        return payload(exc.status, exc.message, exc.errors), exc.status, headers

    # Any database failure outside a write (those map themselves): the store is unavailable.
    @app.errorhandler(SQLAlchemyError)
    def database_unavailable(exc: SQLAlchemyError):
        from ..storage.models import db

        db.session.rollback()
        if request.blueprint == check.blp.name:
            return {"allowed": False, "error": "internal error; denied"}, 200
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return payload(503, "the policy database is unavailable; nothing was changed"), 503

    # Routing 404/405 and other HTTPExceptions go to flask-smorest's handler (same shape);
    # Flask picks the most specific handler, so this one sees only real errors.
    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        # Never show internals; the log has them.
        if request.blueprint == check.blp.name:
            # A failure while answering a check is a deny, never a 500 a caller might
            # wave through.
            log.exception("error while deciding; answering deny")
            return {"allowed": False, "error": "internal error; denied"}, 200
        log.exception("unhandled error")
        return payload(500, InternalServerError.description), 500
