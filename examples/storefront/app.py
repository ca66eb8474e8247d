"""A storefront back office that asks the authorization service before every staff action.

Run it next to the service (`make run`):
    AUTHZ_URL=http://127.0.0.1:8080 AUTHZ_TOKEN=acme-check.dev-acme-check-secret-0001 \\
        flask --app examples.storefront.app run --port 5001
    curl -H 'X-Staff: alice' http://127.0.0.1:5001/stores/amazon-us/orders
The staff login comes from a header here for the demo; a real storefront takes it from
its own session.

A refund over the staff member's limit (R22) is refused with `requires: approval`; the
page then offers to ask a manager (R24):
    curl -X POST -H 'X-Staff: bob' -d '{"amount": "250.00"}' .../refunds/r-1/approve
        -> 403 {"reason": "limit_exceeded", "requires": "approval", "ask": ".../approval"}
    curl -X POST -H 'X-Staff: bob' -d '{"amount": "250.00"}' .../refunds/r-1/approval
        -> 201 {"approval": "<id>"}
    curl -X POST -H 'X-Staff: carol' -d '{"approve": true}' /approvals/<id>/decision
    curl -X POST -H 'X-Staff: bob' -d '{"amount": "250.00", "approval": "<id>"}' \
        .../refunds/r-1/approve                                   -> 200, once
"""

from __future__ import annotations

import os

from flask import Flask, g, jsonify, request

from authz_client import APPROVAL, AuthzClient, Decision
from authz_client.flask import denied, requires


def create_app(url: str | None = None, token: str | None = None,
               tenant: str | None = None) -> Flask:
    app = Flask(__name__)
    app.extensions["authz_client"] = AuthzClient(
        url or os.environ["AUTHZ_URL"], token or os.environ["AUTHZ_TOKEN"],
        tenant=tenant or os.environ.get("AUTHZ_TENANT"), timeout=1.0)
    app.config["AUTHZ_SUBJECT"] = lambda: request.headers.get("X-Staff", "")

    def store() -> str:
        return request.view_args["store"]

    @app.get("/stores/<store>/orders")
    @requires("orders:view", store=store)
    def orders(store: str):
        return {"store": store, "orders": ["#1001", "#1002"],
                "decided_at_revision": g.authz_decision.revision}

    def body() -> dict:
        return request.get_json(silent=True) or {}

    def offer_approval(decision: Decision):
        """A refund the staff member may not make alone: say how to ask for approval."""
        response = denied(decision)
        if decision.requires == APPROVAL:
            response.set_data(jsonify({**response.get_json(), "ask": request.path.rsplit(
                "/", 1)[0] + "/approval"}).get_data())
        return response

    @app.post("/stores/<store>/refunds/<refund>/approve")
    @requires("refunds:approve", store=store,
              context=lambda: {"second_factor": request.headers.get("X-Second-Factor") == "1"},
              amount=lambda: body().get("amount"), approval=lambda: body().get("approval"),
              on_deny=offer_approval)
    def approve_refund(store: str, refund: str):
        return {"store": store, "refund": refund, "approved": True,
                "amount": body().get("amount")}

    @app.post("/stores/<store>/refunds/<refund>/approval")
    def ask_for_approval(store: str, refund: str):
        """File the staff member's request; a manager decides it in their queue."""
        filed = app.extensions["authz_client"].request_approval(
            request.headers.get("X-Staff", ""), store, "refunds:approve",
            amount=body().get("amount"), note=f"refund {refund}")
        if not filed:
            return {"error": filed.error}, 409
        return {"approval": filed.id, "state": filed.state}, 201

    @app.get("/approvals")
    def queue():
        """What the signed-in manager may decide."""
        return {"approvals": [a.document for a in app.extensions["authz_client"]
                              .approval_queue(request.headers.get("X-Staff", ""))]}

    @app.post("/approvals/<approval_id>/decision")
    def decide(approval_id: str):
        """The signed-in manager's decision; the service checks their right to make it."""
        decided = app.extensions["authz_client"].decide_approval(
            approval_id, request.headers.get("X-Staff", ""), body().get("approve") is True)
        if not decided:
            return {"error": decided.error}, 403
        return {"approval": decided.id, "state": decided.state}

    @app.get("/stores/<store>/menu")
    def menu(store: str):
        """What to show a staff member: one batch call for every item of the menu."""
        items = {"orders": "orders:view", "refunds": "refunds:approve",
                 "prices": "prices:change", "staff": "staff:manage"}
        who = request.headers.get("X-Staff", "")
        decisions = app.extensions["authz_client"].check_many([
            {"subject": who, "store": store, "object": p.split(":")[0],
             "action": p.split(":")[1]} for p in items.values()])
        return {"menu": [name for name, d in zip(items, decisions, strict=True) if d]}

    return app
