"""The OpenID AuthZEN Authorization API 1.0 bodies, as /openapi.json documents them. The
bodies are read by api/authzen_input.py (the specification's forward compatibility:
fields it does not define are ignored, so these schemas document, they do not load)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import INCLUDE, fields


class _Open(ma.Schema):
    class Meta:
        unknown = INCLUDE  # (ignored by the API: the specification's forward compatibility)


class AuthZenSubject(_Open):
    type = fields.String(required=True, metadata={"description": '"user"'})
    id = fields.String(metadata={"description": "A sub-account's login, or \"owner\" "
                                                "(left out in a subject search)"})


class AuthZenProductProperties(_Open):
    store = fields.String(metadata={"description": "The product's store"})


class AuthZenResource(_Open):
    type = fields.String(required=True, metadata={"description": '"store", or "product" '
                                                                '(with properties.store)'})
    id = fields.String(metadata={"description": "The store, or the product (left out in a "
                                                "resource search)"})
    properties = fields.Nested(AuthZenProductProperties)


class AuthZenAction(_Open):
    name = fields.String(required=True, metadata={
        "description": "A catalogue permission, <area>:<action> (an app's: "
                       "<app>.<area>:<action>)", "example": "orders:view"})


class AuthZenContext(_Open):
    second_factor = fields.Boolean()
    amount = fields.String(metadata={"example": "150.00"})
    approval = fields.String()


class AuthZenEvaluationRequest(_Open):
    subject = fields.Nested(AuthZenSubject, required=True)
    resource = fields.Nested(AuthZenResource, required=True)
    action = fields.Nested(AuthZenAction, required=True)
    context = fields.Nested(AuthZenContext)


class AuthZenEvaluationItem(_Open):
    subject = fields.Nested(AuthZenSubject, metadata={"description": "Else the top level's"})
    resource = fields.Nested(AuthZenResource, metadata={"description": "Else the top level's"})
    action = fields.Nested(AuthZenAction, metadata={"description": "Else the top level's"})
    context = fields.Nested(AuthZenContext, metadata={"description": "Else the top level's"})


class AuthZenOptions(_Open):
    evaluations_semantic = fields.String(metadata={
        "description": "execute_all (the default), deny_on_first_deny or "
                       "permit_on_first_permit"})


class AuthZenEvaluationsRequest(_Open):
    subject = fields.Nested(AuthZenSubject,
                            metadata={"description": "The default of each evaluation"})
    resource = fields.Nested(AuthZenResource)
    action = fields.Nested(AuthZenAction)
    context = fields.Nested(AuthZenContext)
    evaluations = fields.List(fields.Nested(AuthZenEvaluationItem))
    options = fields.Nested(AuthZenOptions)


class AuthZenDecisionContext(ma.Schema):
    reason = fields.String(metadata={"description": "/check's reason code (R23)"})
    requires = fields.String(allow_none=True, metadata={
        "description": "What would allow it: second_factor, approval, or null"})
    revision = fields.Integer(metadata={"description": "The tenant's revision it was "
                                                       "decided at"})


class AuthZenEvaluationResponse(ma.Schema):
    decision = fields.Boolean(required=True)
    context = fields.Nested(AuthZenDecisionContext)


class AuthZenEvaluationsResponse(ma.Schema):
    evaluations = fields.List(fields.Nested(AuthZenEvaluationResponse))


class AuthZenPage(_Open):
    limit = fields.Integer(metadata={"description": "At most this many results (1,000 "
                                                    "at most)"})
    token = fields.String(metadata={"description": "The next_token of the page before"})


class AuthZenSearchRequest(_Open):
    subject = fields.Nested(AuthZenSubject, required=True)
    resource = fields.Nested(AuthZenResource, required=True)
    action = fields.Nested(AuthZenAction, metadata={"description": "Left out in an action search"})
    context = fields.Nested(AuthZenContext)
    page = fields.Nested(AuthZenPage)


class AuthZenPageAnswer(ma.Schema):
    next_token = fields.String(metadata={"description": "\"\" on the last page"})
    count = fields.Integer()
    total = fields.Integer()


class AuthZenSearchResponse(ma.Schema):
    page = fields.Nested(AuthZenPageAnswer)
    context = fields.Dict()
    results = fields.List(fields.Dict(), required=True)


class AuthZenMetadata(ma.Schema):
    policy_decision_point = fields.String(required=True)
    access_evaluation_endpoint = fields.String(required=True)
    access_evaluations_endpoint = fields.String()
    search_subject_endpoint = fields.String()
    search_resource_endpoint = fields.String()
    search_action_endpoint = fields.String()
