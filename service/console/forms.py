"""Forms to API bodies and back: a form is turned into the body the API would receive,
checked by the API's own schema, and committed through the same service call; an error is
shown next to the field it names."""

from __future__ import annotations

import re

from flask import current_app, flash, g, redirect, render_template, request
from marshmallow import ValidationError
from werkzeug.datastructures import ImmutableMultiDict

from ..domain.errors import Conflict, InvalidInput, NotFound, ServiceError
from . import i18n

EMPTY = ImmutableMultiDict()  # the form of a page opened with GET
FIELD_ERRORS = (ValidationError, InvalidInput, NotFound, Conflict)  # shown next to a field
_INDEX = re.compile(r"\[\d+\]$")


def listed(name: str) -> list[str]:
    """Every non-empty value of a multi-valued field (ticked boxes), in form order."""
    return [v for v in request.form.getlist(name) if v.strip()]


def text(name: str) -> str:
    return request.form.get(name, "").strip()


def optional(body: dict, **values: str) -> dict:
    """Add the fields the user filled in (an empty optional box is "not given")."""
    body.update({k: v for k, v in values.items() if v})
    return body


def field_errors(exc: Exception) -> dict[str, list[str]]:
    """{form field: messages}: marshmallow's nested messages and the domain's `errors`
    ("departments[0]" -> "departments") flattened to the field that shows them."""
    raw = exc.messages if isinstance(exc, ValidationError) else getattr(exc, "errors", {})
    out: dict[str, list[str]] = {}
    if isinstance(raw, list):  # a schema-level error
        return {"_": [str(m) for m in raw]}
    for field, messages in raw.items():
        name = _INDEX.sub("", str(field))
        out.setdefault(name, []).extend(_flatten(messages))
    if not out and isinstance(exc, ServiceError):
        out["_"] = [exc.message]
    return out


def _flatten(messages) -> list[str]:
    if isinstance(messages, dict):
        return [m for v in messages.values() for m in _flatten(v)]
    if isinstance(messages, list | tuple):
        return [m for v in messages for m in _flatten(v)]
    return [str(messages)]


def service():
    return current_app.extensions["authz"]


class Checked:
    """A form's body loaded by the API's schema, then made into a Call of a named use
    case. The schema runs before the write opens its transaction."""

    def __init__(self, schema, body: dict, make):
        self.schema, self.body, self.make = schema, body, make

    def edit(self):
        return self.make(self.schema.load(self.body))


class Call:
    """A named use case (usecases/) to run as the signed-in key, in its tenant: what the
    API calls for the same change."""

    def __init__(self, use_case, *args, **kwargs):
        self.use_case, self.args, self.kwargs = use_case, args, kwargs

    def __call__(self, reason: str | None):
        return self.use_case(service(), g.caller, g.caller.tenant, *self.args,
                             reason=reason, **self.kwargs)


def commit(edit: Call | Checked, reason: str | None = None):
    """Run a named use case (a Call, or Checked making one) as the signed-in key:
    (revision, what it returned). The console has no other way to write."""
    if isinstance(edit, Checked):
        edit = edit.edit()
    return edit(reason)


def write_or_show(edit, section: str, show, back: str):
    """Commit `edit`, then go to `back`; on an input error, `show(errors, form)` renders the
    page again with the error next to the field of `section`'s form, nothing changed."""
    try:
        revision, _ = commit(edit, text("reason") or None)
    except FIELD_ERRORS as exc:
        return show({section: field_errors(exc)}, request.form)
    saved("common.saved", revision=revision)
    return redirect(back)


def saved(message_key: str, **values) -> None:
    flash(i18n.translate(g.lang, message_key, **values), "ok")


def invalid(template: str, exc: Exception, **context):
    """The same page again with the submitted values and each error next to its field.
    Answered 200: the page is a form to correct, not a failure (a 4xx document is an error
    in the browser's console)."""
    return render_template(template, errors=field_errors(exc), form=request.form, **context)
