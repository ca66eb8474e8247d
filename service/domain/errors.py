"""The one exception hierarchy of the service; the HTTP layer maps each class to a status."""

from __future__ import annotations


class ServiceError(Exception):
    """Base: carries a message for callers and optional per-field details."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class InvalidInput(ServiceError):
    status = 422
    code = "invalid"


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class LimitReached(Conflict):
    code = "limit_reached"


class StaleRevision(Conflict):
    """A consistency token asked for a revision this worker cannot reach yet: retry."""

    code = "stale_revision"


class TooManyRequests(ServiceError):
    """Past the per-key write rate limit; `retry_after` seconds until the window ends."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, {"retry_after": [str(retry_after)]})
        self.retry_after = retry_after


class Unavailable(ServiceError):
    status = 503
    code = "unavailable"
