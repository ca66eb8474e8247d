"""A storefront back office that asks the authorization service before every staff action.

Run it next to the service (`make run`):
    AUTHZ_URL=http://127.0.0.1:8080 AUTHZ_TOKEN=acme-check.dev-acme-check-secret-0001 \\
        flask --app examples.storefront.app run --port 5001
    curl -H 'X-Staff: alice' http://127.0.0.1:5001/stores/amazon-us/orders
The staff login comes from a header here for the demo; a real storefront takes it from
its own session.
"""

from __future__ import annotations

import os

from flask import Flask, g, request

from authz_client import AuthzClient
from authz_client.flask import requires


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

    @app.post("/stores/<store>/refunds/<refund>/approve")
    @requires("refunds:approve", store=store,
              context=lambda: {"second_factor": request.headers.get("X-Second-Factor") == "1"})
    def approve_refund(store: str, refund: str):
        return {"store": store, "refund": refund, "approved": True}

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
