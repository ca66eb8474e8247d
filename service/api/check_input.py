"""Reading /check bodies by hand: the hot path.

Exactly the rules of schemas/check.py SingleCheck / CheckBatch (which document the API
and are tested to agree with this), at a fraction of marshmallow's cost per request.
Errors have marshmallow's shape, keyed by field, so a caller sees no difference.
"""

from __future__ import annotations

from collections.abc import Callable

from ..domain import amounts
from ..domain import rules as R
from ..domain.catalogue import OBJECTS, split_object
from ..domain.decider import CheckRequest
from ..domain.errors import InvalidInput

IDENTIFIER = R.IDENTIFIER.fullmatch
MISSING = "Missing data for required field."
NOT_STRING = "Not a valid string."
UNKNOWN = "Unknown field."
BAD_IDENTIFIER = ("must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a "
                  "letter or digit")
CHECK_FIELDS = frozenset(("tenant", "subject", "store", "object", "action", "context"))
CONTEXT_FIELDS = frozenset(("second_factor", "amount", "approval"))
SINGLE_FIELDS = CHECK_FIELDS | {"at_least_revision"}
# Identifiers already found valid. The same few hundred names (tenants, logins, stores,
# areas, actions) arrive in every batch, and a set look-up costs a fraction of the regular
# expression. Only strings that matched it are ever added; past KNOWN_LIMIT the set starts
# again, so no stream of new names can grow it without end.
KNOWN_LIMIT = 50_000
_KNOWN: set[str] = set()


def _learn(value: object) -> bool:
    """Is `value` an identifier? (Remembered if so: see _KNOWN.)"""
    if type(value) is not str or not IDENTIFIER(value):
        return False
    if len(_KNOWN) >= KNOWN_LIMIT:
        _KNOWN.clear()
    _KNOWN.add(value)
    return True


def _identifier(value: object, errors: dict, field: str) -> str:
    if not isinstance(value, str):
        errors[field] = [NOT_STRING if value is not None else "Field may not be null."]
    elif not IDENTIFIER(value):
        errors[field] = [BAD_IDENTIFIER]
    return value  # type: ignore[return-value]


_ABSENT = object()


def _revision(value: object, errors: dict) -> int | None:
    if value is _ABSENT:
        return None
    if value is None:
        errors["at_least_revision"] = ["Field may not be null."]
    elif isinstance(value, bool) or not isinstance(value, int):
        errors["at_least_revision"] = ["Not a valid integer."]
    elif value < 0:
        errors["at_least_revision"] = ["Must be greater than or equal to 0."]
    return value  # type: ignore[return-value]


def read_item(item: object, allowed: frozenset) -> tuple[dict, dict]:
    """(values, errors) for one check object."""
    if type(item) is dict and item.keys() <= allowed and "context" not in item:
        # The usual shape, accepted in one pass; anything else gets the full reading below,
        # which accepts exactly this too.
        s, st, a, o = item.get("subject"), item.get("store"), item.get("action"), item.get("object")
        t = item.get("tenant", "x")
        known, learn = _KNOWN, _learn
        if (type(s) is str and type(st) is str and type(a) is str and type(o) is str
                and type(t) is str and (s in known or learn(s)) and (st in known or learn(st))
                and (a in known or learn(a)) and (o in known or learn(o))
                and (t in known or learn(t))):
            return item, {}
    if not isinstance(item, dict):
        return {}, {"_schema": ["Invalid input type."]}
    errors: dict = {}
    for key in item.keys() - allowed:
        errors[key] = [UNKNOWN]
    for key in ("subject", "store", "action"):
        if key not in item:
            errors[key] = [MISSING]
        else:
            _identifier(item[key], errors, key)
    if "tenant" in item:
        _identifier(item["tenant"], errors, "tenant")
    obj = item.get("object")
    if obj is None and "object" not in item:
        errors["object"] = [MISSING]
    elif not isinstance(obj, str):
        errors["object"] = [NOT_STRING]
    elif "/" not in obj:
        if not IDENTIFIER(obj):
            errors["object"] = [BAD_IDENTIFIER]
    else:
        split = split_object(obj)
        if split is None or not IDENTIFIER(split[0]) or not IDENTIFIER(split[1]):
            errors["object"] = [OBJECTS]
    context = item.get("context", {})
    if not isinstance(context, dict):
        errors["context"] = {"_schema": ["Invalid input type."]}
    else:
        bad = {k: [UNKNOWN] for k in context if k not in CONTEXT_FIELDS}
        if not isinstance(context.get("second_factor", False), bool):
            bad["second_factor"] = ["Not a valid boolean."]
        if "amount" in context:
            try:
                amounts.parse(context["amount"])
            except InvalidInput as exc:
                bad.update(exc.errors)
        if "approval" in context:
            _identifier(context["approval"], bad, "approval")
        if bad:
            errors["context"] = bad
    return item, errors


def check_request(tenant: str, item: dict) -> CheckRequest:
    area, product = split_object(item["object"])  # (read_item checked it)
    context = item.get("context")
    if not context:
        return CheckRequest(tenant, item["subject"], item["store"], area, item["action"],
                            False, product)
    amount = context.get("amount")
    return CheckRequest(tenant, item["subject"], item["store"], area, item["action"],
                        context.get("second_factor", False), product,
                        amounts.parse(amount) if amount is not None else "",
                        context.get("approval", ""))


def read_single(body: object) -> tuple[dict, int | None]:
    values, errors = read_item(body if body is not None else {}, SINGLE_FIELDS)
    revision = _revision(values.get("at_least_revision", _ABSENT), errors)
    if errors:
        raise InvalidInput("invalid check", {"json": errors})
    return values, revision


def read_batch(body: object, limit: int) -> tuple[list[dict], int | None]:
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InvalidInput("invalid batch", {"json": {"_schema": ["Invalid input type."]}})
    errors: dict = {k: [UNKNOWN] for k in body.keys() - {"checks", "at_least_revision"}}
    revision = _revision(body.get("at_least_revision", _ABSENT), errors)
    checks = body.get("checks")
    if checks is None:
        errors["checks"] = [MISSING]
    elif not isinstance(checks, list):
        errors["checks"] = ["Not a valid list."]
    elif not checks or len(checks) > limit:
        raise InvalidInput(f"checks must hold 1 to {limit} items",
                           {"checks": [f"1 to {limit} items"]})
    else:
        item_errors = {}
        for i, item in enumerate(checks):
            _, bad = read_item(item, CHECK_FIELDS)
            if bad:
                item_errors[str(i)] = bad
        if item_errors:
            errors["checks"] = item_errors
    if errors:
        raise InvalidInput("invalid batch", {"json": errors})
    return checks, revision


def batch_requests(body: object, limit: int, tenant_of: Callable[[str | None], str]
                   ) -> tuple[list[tuple], int | None]:
    """The decision requests of a /check/batch body, in order, and the revision it asks
    for. A request is a CheckRequest's fields as a plain tuple (built a hundred times a
    batch); its tenant is `tenant_of(the check's tenant field)`, asked once per name.
    Errors are read_batch's, then the first tenant_of refuses."""
    try:
        usual = _usual_batch(body, limit, tenant_of)
    except Exception:  # noqa: BLE001 - a refused tenant or an odd value: read it in full
        usual = None
    if usual is not None:
        return usual
    checks, revision = read_batch(body, limit)
    tenants: dict = {}
    requests = []
    for item in checks:
        name = item.get("tenant")
        if name not in tenants:
            tenants[name] = tenant_of(name)
        requests.append(tuple(check_request(tenants[name], item)))
    used = [str(i) for i, r in enumerate(requests) if r[8]]
    if used:  # a use of an approval is a write of its own, answered once: /check
        raise InvalidInput("an approval is used on POST /check, one action at a time",
                           {"json": {"checks": {i: {"context": {"approval": [
                               "only on /check"]}} for i in used}}})
    return requests, revision


def _usual_batch(body: object, limit: int, tenant_of) -> tuple[list[tuple], int | None] | None:
    """batch_requests in one pass for the usual body - up to `limit` checks of an area and
    an action, every field an identifier - or None for anything else (read in full).
    Each check has exactly the four required fields and maybe the tenant, so no unknown
    field can hide in it."""
    if type(body) is not dict:
        return None
    checks = body.get("checks")
    if type(checks) is not list or not 0 < len(checks) <= limit:
        return None
    revision = None
    if len(body) > 1:
        if len(body) > 2 or "at_least_revision" not in body:
            return None
        errors: dict = {}
        revision = _revision(body["at_least_revision"], errors)
        if errors:
            return None
    known, learn = _KNOWN, _learn
    tenants: dict = {}
    requests: list[tuple] = []
    append = requests.append
    for item in checks:
        if type(item) is not dict:
            return None
        t = item.get("tenant")
        if len(item) != (4 if t is None else 5):
            return None
        s, st, o, a = item.get("subject"), item.get("store"), item.get("object"), item.get("action")
        if not ((s in known or learn(s)) and (st in known or learn(st))
                and (o in known or learn(o)) and (a in known or learn(a))
                and (t is None or t in known or learn(t))):
            return None
        tenant = tenants.get(t)
        if tenant is None:
            tenant = tenants[t] = tenant_of(t)
        append((tenant, s, st, o, a, False, "", "", ""))
    return requests, revision
