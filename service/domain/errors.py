"""The one exception hierarchy of the service. Each has a stable `code`; the HTTP status of
each class is the HTTP layer's to say (api/errors.py), not the domain's."""

from __future__ import annotations


class ServiceError(Exception):
    """Base: carries a message for callers and optional per-field details."""

    code = "bad_request"

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class InvalidInput(ServiceError):
    code = "invalid"


class Unauthorized(ServiceError):
    code = "unauthorized"


class Forbidden(ServiceError):
    code = "forbidden"


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"


class LimitReached(Conflict):
    code = "limit_reached"


class StaleRevision(Conflict):
    """A consistency token asked for a revision this worker cannot reach yet: retry."""

    code = "stale_revision"


class TooManyRequests(ServiceError):
    """Past the per-key write rate limit; `retry_after` seconds until the window ends."""

    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, {"retry_after": [str(retry_after)]})
        self.retry_after = retry_after


class Unavailable(ServiceError):
    code = "unavailable"


class TenantUnavailable(Unavailable):
    """The tenant is not held by this worker and cannot be loaded now (the database does
    not answer): its checks are denied, saying so, never guessed."""

    code = "tenant_unavailable"
