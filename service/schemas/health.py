"""/health and /ready."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields


class Health(ma.Schema):
    status = fields.String()
    tenants_held = fields.Integer(metadata={"description": "Tenants this worker holds"})
    policy_age_seconds = fields.Float(allow_none=True)
    listening = fields.Boolean()
    pid = fields.Integer()


class Ready(ma.Schema):
    ready = fields.Boolean()
    tenants_held = fields.Integer(metadata={"description": "Tenants this worker holds (it "
                                                           "loads each on demand)"})
    database = fields.String(metadata={"description": "reachable, unreachable or missing "
                                                      "(the SQLite file was deleted)"})
    policy_age_seconds = fields.Float(allow_none=True, metadata={
        "description": "Seconds since this worker last confirmed its policy is current"})
    problem = fields.String(metadata={"description": "Why the worker is not ready, or what "
                                                     "is wrong with the database"})
