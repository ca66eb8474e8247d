"""/health: liveness plus how fresh this worker's policy is."""

from __future__ import annotations

import os

from flask_smorest import Blueprint

from .auth import authz

blp = Blueprint("health", __name__, description="Service health")


@blp.route("/health", methods=["GET"])
@blp.response(200)
def health():
    service = authz()
    service.ensure_listening()
    replica = service.replica
    replica.catch_up()
    age = replica.staleness()
    return {"status": "ok", "revision": replica.revision,
            "policy_age_seconds": None if age is None else round(age, 3),
            "listening": service.listening, "pid": os.getpid()}
