"""Why a check is answered as it is (R23): one stable code per answer, and what the caller
could obtain to be allowed.

The codes are part of the API (README, OpenAPI): storefronts branch on them, so a code is
never renamed, only added. The index works out the model's codes (domain/index.py); the
decider and the check paths add the service's own (an app not installed, a tenant that
cannot be loaded, an approval's state).
"""

from __future__ import annotations

GRANTED = "granted"  # some grant applies and nothing denies
NO_GRANT = "no_grant"  # nothing grants this permission to the subject in this store
NOT_ASSIGNED = "not_assigned"  # the subject is not assigned the store (or is unknown)
EXPLICIT_DENY = "explicit_deny"  # a deny of the subject or its department (R8)
DISABLED = "disabled"  # the sub-account is disabled (R12)
STEP_UP_REQUIRED = "step_up_required"  # allowed once a second factor is passed (R10)
NOT_PRODUCT_OPERATOR = "not_product_operator"  # the store runs by product (R17)
LIMIT_EXCEEDED = "limit_exceeded"  # every grant that applies has a lower limit (R22)
AMOUNT_REQUIRED = "amount_required"  # only limited grants apply, and no amount was given
APPROVAL_REQUIRED = "approval_required"  # the permission always needs an approval (R24)
# The approval a check names does not allow this action (the check paths say which way).
APPROVAL_NOT_VALID = "approval_not_valid"
APPROVAL_PENDING = "approval_pending"
APPROVAL_REJECTED = "approval_rejected"
APPROVAL_EXPIRED = "approval_expired"
APPROVAL_USED = "approval_used"
APPROVAL_MISMATCH = "approval_mismatch"  # approved, but for another action or amount
APP_NOT_INSTALLED = "app_not_installed"  # an app permission of an app not installed (R21)
UNKNOWN_TENANT = "unknown_tenant"
TENANT_UNAVAILABLE = "tenant_unavailable"  # the tenant could not be loaded: deny
ERROR = "error"  # deciding failed: deny

SECOND_FACTOR = "second_factor"
APPROVAL = "approval"
# The only codes that may require something (requires() is None for every other).
MAY_REQUIRE = frozenset((STEP_UP_REQUIRED, APPROVAL_REQUIRED, LIMIT_EXCEEDED))

# Every code an answer may carry, for the documentation and its test.
CODES = (GRANTED, NO_GRANT, NOT_ASSIGNED, EXPLICIT_DENY, DISABLED, STEP_UP_REQUIRED,
         NOT_PRODUCT_OPERATOR, LIMIT_EXCEEDED, AMOUNT_REQUIRED, APPROVAL_REQUIRED,
         APPROVAL_NOT_VALID, APPROVAL_PENDING, APPROVAL_REJECTED, APPROVAL_EXPIRED,
         APPROVAL_USED, APPROVAL_MISMATCH, APP_NOT_INSTALLED, UNKNOWN_TENANT,
         TENANT_UNAVAILABLE, ERROR)


def requires(code: str, approvable: bool) -> str | None:
    """What would allow an answer with `code`: a second factor, an approval (when the
    tenant lets this permission be approved over the limit: `approvable`), or nothing the
    caller can obtain (None)."""
    if code == STEP_UP_REQUIRED:
        return SECOND_FACTOR
    if code == APPROVAL_REQUIRED or (code == LIMIT_EXCEEDED and approvable):
        return APPROVAL
    return None
