"""Reading OpenID AuthZEN 1.0 requests as /check's: the mapping (README, "AuthZEN").

- subject `{"type": "user", "id": <login>}` ("owner" is the main account);
- resource `{"type": "store", "id": <store>}`, or one product
  `{"type": "product", "id": <product>, "properties": {"store": <store>}}`;
- action `{"name": "<area>:<action>"}`, a catalogue permission;
- context `{"second_factor", "amount", "approval"}` as /check's.

An evaluation becomes the /check item it means and is read by check_input, so it is asked
and answered exactly as /check asks and answers it. The specification's forward
compatibility is kept: fields it does not define, and `properties` beyond a product's
store, are ignored (unlike the rest of the API, where an unknown field is an error).
Errors name the AuthZEN field (`resource.id`, `action.name`, `context.amount`).
"""

from __future__ import annotations

import json

from ..domain import reasons as W
from ..domain.catalogue import PRODUCT_AREA
from ..domain.errors import ServiceError
from . import check_input

USER, STORE, PRODUCT = "user", "store", "product"
BASE = "/access/v1"  # AuthZEN's endpoints: the key's tenant, or under the tenant's base
TENANT_BASE = "/v1/tenants/<tenant>/access/v1"
MISSING = "Missing data for required field."
NOT_OBJECT = "Not a valid object."
NOT_STRING = "Not a valid string."
SUBJECT, RESOURCE, ACTION = "subject", "resource", "action"


class BadRequest(ServiceError):
    """400: the request is not one the AuthZEN API can answer (a field named)."""


class Unsupported(Exception):
    """A well-formed entity of a type this PDP does not have (a search finds nothing):
    `errors` names the field."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(f"{k}: {v[0]}" for k, v in errors.items()))
        self.errors = errors


def body_object(body: object) -> dict:
    """The request's top-level JSON object, or 400."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object",
                         {"json": ["a JSON object (Content-Type: application/json)"]})
    return body


def _entity(value: object, name: str, errors: dict) -> dict | None:
    if value is None:
        errors[name] = [MISSING]
    elif not isinstance(value, dict):
        errors[name] = [NOT_OBJECT]
    else:
        return value
    return None


def _string(entity: dict, key: str, name: str, errors: dict) -> str | None:
    value = entity.get(key)
    if value is None:
        errors[f"{name}.{key}"] = [MISSING]
    elif not isinstance(value, str):
        errors[f"{name}.{key}"] = [NOT_STRING]
    else:
        return value
    return None


def read(evaluation: dict, search: str | None = None) -> tuple[dict, str | None]:
    """(the /check item an evaluation means, the product it asks about or None): read by
    `checked` next, its tenant set by the caller. `search`: the
    entity a search resolves (subject, resource or action), whose id (or name) is not
    read; its candidates fill it in (with_candidate). 400 naming every bad field;
    Unsupported when every field is well formed but a type is not one of ours."""
    errors: dict = {}
    subject = _entity(evaluation.get(SUBJECT), SUBJECT, errors)
    resource = _entity(evaluation.get(RESOURCE), RESOURCE, errors)
    action = _entity(evaluation.get(ACTION), ACTION, errors) if search != ACTION else {}
    context = evaluation.get("context", {})
    if context is None:
        context = {}
    if not isinstance(context, dict):
        errors["context"] = [NOT_OBJECT]
    unsupported: dict = {}
    item: dict = {}
    if subject is not None:
        kind = _string(subject, "type", SUBJECT, errors)
        if search != SUBJECT:
            item["subject"] = _string(subject, "id", SUBJECT, errors)
        if kind is not None and kind != USER:
            unsupported["subject.type"] = [f"{USER!r} is this PDP's only subject type"]
    product = None
    if resource is not None:
        kind = _string(resource, "type", RESOURCE, errors)
        if search != RESOURCE:
            rid = _string(resource, "id", RESOURCE, errors)
            if kind == PRODUCT:
                product = rid
                properties = resource.get("properties")
                if not isinstance(properties, dict) or "store" not in properties:
                    errors["resource.properties.store"] = [
                        "a product's store is required"]
                else:
                    item["store"] = properties["store"]
            else:
                item["store"] = rid
        if kind is not None and kind not in (STORE, PRODUCT):
            unsupported["resource.type"] = [f"{STORE!r} or {PRODUCT!r}"]
        elif kind == PRODUCT and search == RESOURCE:
            unsupported["resource.type"] = ["a store's products are not listed"]
    if action is not None and search != ACTION:
        name = _string(action, "name", ACTION, errors)
        if name is not None:
            area, colon, verb = name.rpartition(":")
            if not colon:
                errors["action.name"] = ["a catalogue permission, <area>:<action>"]
            else:
                item["object"], item["action"] = product_object(area, product), verb
    if isinstance(context, dict):
        known = {k: context[k] for k in check_input.CONTEXT_FIELDS if k in context}
        if known:
            item["context"] = known
    if errors:
        raise BadRequest("invalid AuthZEN request", errors)
    if unsupported:
        raise Unsupported(unsupported)
    return item, product


def product_object(area: str, product: str | None) -> str:
    """/check's object: the area, or for one product `product/<id>` (the products area)
    or `<app>.<area>/product/<id>` (an app's per-product area)."""
    if product is None:
        return area
    return f"product/{product}" if area == PRODUCT_AREA else f"{area}/product/{product}"


# /check's field -> the AuthZEN field it came from, for errors check_input finds
_FIELDS = {"subject": "subject.id", "store": "resource.id", "object": "action.name",
           "action": "action.name"}


def checked(item: dict, product: str | None = None) -> dict:
    """`item` read as /check reads it (check_input.read_item), errors named as AuthZEN's."""
    values, errors = check_input.read_item(item, check_input.CHECK_FIELDS)
    if not errors:
        return values
    named: dict = {}
    for field, problem in errors.items():
        if field == "context" and isinstance(problem, dict):
            named.update({f"context.{k}": v for k, v in problem.items()})
        elif field == "store" and product is not None:
            named["resource.properties.store"] = problem
        elif field == "object" and product is not None:
            named["resource.id"] = problem
        else:
            named[_FIELDS.get(field, field)] = problem
    raise BadRequest("invalid AuthZEN request", named)


def with_defaults(evaluation: object, defaults: dict) -> object:
    """An evaluation of a batch with the top-level subject, action, resource and context
    it omits (whole entities: no merging within one)."""
    if not isinstance(evaluation, dict):
        return evaluation
    merged = {k: defaults[k] for k in (SUBJECT, ACTION, RESOURCE, "context") if k in defaults}
    merged.update(evaluation)
    return merged


def decision(code: str, requires: str | None, revision: int) -> dict:
    """An evaluation's answer (both paths write it with this): /check's answer as
    AuthZEN's Decision."""
    return {"decision": code == W.GRANTED,
            "context": {"reason": code, "requires": requires, "revision": revision}}


def text(payload: dict) -> str:
    return json.dumps(payload, separators=(",", ":"))
