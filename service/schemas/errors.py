"""The HTTP status of each of the service's errors: the API's JSON errors and the console's
pages answer with the same one."""

from __future__ import annotations

from ..domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceError,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)

# Subclasses take their base's: a LimitReached or a StaleRevision is a Conflict.
STATUS: dict[type[ServiceError], int] = {
    InvalidInput: 422, Unauthorized: 401, Forbidden: 403, NotFound: 404, Conflict: 409,
    TooManyRequests: 429, Unavailable: 503, ServiceError: 400}


def status_of(exc: ServiceError) -> int:
    return next(STATUS[k] for k in type(exc).__mro__ if k in STATUS)
