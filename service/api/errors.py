"""One JSON error shape for every failure: {code, status, message, errors}."""

from __future__ import annotations

import logging

from flask import Flask, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

from ..domain import reasons as W
from ..domain.errors import (
    ServiceError,
    TooManyRequests,
    Unavailable,
)
from ..runtime.telemetry import DATABASE_ERRORS
from ..schemas.errors import status_of
from . import authzen, check

log = logging.getLogger(__name__)

_STATUS_NAMES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                 409: "Conflict", 422: "Unprocessable Entity", 429: "Too Many Requests",
                 503: "Service Unavailable"}


def payload(status: int, message: str, errors: dict | None = None) -> dict:
    body = {"code": status, "status": _STATUS_NAMES.get(status, "Error"), "message": message}
    if errors:
        body["errors"] = errors
    return body


def init_app(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        if isinstance(exc, Unavailable) and request.blueprint in (check.blp.name,
                                                                   authzen.blp.name):
            # A tenant or key this worker does not hold, the database down: deny, and say
            # why (header and reason), never a 503 a caller might wave through. The reason
            # is a documented code (W.CODES) whichever part was down.
            DATABASE_ERRORS.labels("check").inc()
            headers = {"X-Authz-Denied": W.TENANT_UNAVAILABLE}
            if request.blueprint == authzen.blp.name:
                return authzen.denied_on_error(W.TENANT_UNAVAILABLE), 200, headers
            return check.denied_on_error(W.TENANT_UNAVAILABLE, exc.message), 200, headers
        status = status_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
        if isinstance(exc, TooManyRequests):
            headers["Retry-After"] = str(exc.retry_after)
        return payload(status, exc.message, exc.errors), status, headers

    # Routing, method, body-size and schema (webargs 422) errors: the same shape, with a
    # message naming the fields when the schema refused some.
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        data = getattr(exc, "data", None) or {}
        errors = data.get("messages")
        if errors:
            fields = sorted({f for where in errors.values() if isinstance(where, dict)
                             for f in where})
            message = f"invalid {', '.join(fields) or 'input'}"
        else:
            message = data.get("message") or exc.description or ""
        headers = {k: v for k, v in exc.get_headers() if k in ("Allow", "Retry-After")}
        return payload(exc.code or 500, message, errors), exc.code or 500, headers

    # json.loads recurses once per nesting level: a body of 100,000 "[" is bad input.
    @app.errorhandler(RecursionError)
    def nested_too_deeply(exc: RecursionError):
        return payload(400, "the JSON body is nested too deeply"), 400

    # Any database failure outside a write (those map themselves): the store is unavailable.
    @app.errorhandler(SQLAlchemyError)
    def database_unavailable(exc: SQLAlchemyError):
        app.extensions["authz"].recover()
        DATABASE_ERRORS.labels("request").inc()
        if request.blueprint == check.blp.name:
            return check.denied_on_error(), 200
        if request.blueprint == authzen.blp.name:
            return authzen.denied_on_error(), 200
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return payload(503, "the policy database is unavailable; nothing was changed"), 503

    # Flask picks the most specific handler, so this one sees only real errors.
    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        # Never show internals; the log has them.
        if request.blueprint == check.blp.name:
            # A failure while answering a check is a deny, never a 500 a caller might
            # wave through.
            log.exception("error while deciding; answering deny")
            return check.denied_on_error(), 200
        if request.blueprint == authzen.blp.name:
            log.exception("error while deciding (AuthZEN); answering deny")
            return authzen.denied_on_error(), 200
        log.exception("unhandled error")
        return payload(500, InternalServerError.description), 500
