"""/health (alive), /ready (able to answer, and from how fresh a policy), /metrics."""

from __future__ import annotations

import os

from flask import Response, current_app
from flask_smorest import Blueprint
from sqlalchemy.exc import SQLAlchemyError

from ..config import sqlite_path
from ..runtime import telemetry
from ..schemas.health import Health, Ready
from .auth import authz

blp = Blueprint("health", __name__, description="Service health and metrics")


def _age(replica) -> float | None:
    age = replica.staleness()
    return None if age is None else round(age, 3)


@blp.route("/health", methods=["GET"])
@blp.response(200, Health)
def health():
    """Alive: this worker answers, and says the revision it serves."""
    service = authz()
    service.background.ensure_started()
    replica = service.replica
    replica.catch_up()
    return {"status": "ok", "tenants_held": replica.held_tenants(),
            "policy_age_seconds": _age(replica), "listening": service.background.listening,
            "pid": os.getpid()}


@blp.route("/ready", methods=["GET"])
@blp.response(200, Ready)
@blp.alt_response(503, schema=Ready, description="No policy loaded yet")
def ready():
    """Ready to decide: the database answers (tenants are loaded on demand), or it does
    not but this worker has caught up before and serves the tenants it holds from the last
    committed state it applied, and says how old that is."""
    service = authz()
    service.background.ensure_started()
    replica = service.replica
    replica.catch_up()
    path = sqlite_path(current_app.config["AUTHZ_DATABASE_URL"])
    problem = None
    try:
        if path is not None and not path.exists():
            # an open connection still reads the deleted file; nothing new would
            raise FileNotFoundError(path)
        service.ping()
        database = "reachable"
    except FileNotFoundError:
        database = "missing"
        problem = f"the database file {path} does not exist"
    except SQLAlchemyError as exc:
        database = "unreachable"
        cause = getattr(exc, "orig", None) or exc
        problem = f"the database does not answer ({type(cause).__name__})"
    loaded = database == "reachable" or (database == "unreachable"
                                         and replica.synced_at is not None)
    body = {"ready": loaded, "tenants_held": replica.held_tenants(), "database": database,
            "policy_age_seconds": _age(replica)}
    if problem is not None:
        body["problem"] = problem
    return body, 200 if loaded else 503


@blp.route("/metrics", methods=["GET"])
@blp.response(200, {"type": "string"}, content_type="text/plain")
def metrics():
    """Prometheus text format: decisions, /check latency, batch sizes, writes, revision
    and lag per worker, database errors."""
    text, content_type = telemetry.render(authz().replica)
    return Response(text, content_type=content_type)
