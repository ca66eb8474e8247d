// A storefront back office in Express that asks the authorization service before every
// staff action: the Node twin of examples/storefront (Flask), route for route.
//
// Run it next to the service (`make run`), after `make node`:
//   AUTHZ_URL=http://127.0.0.1:8080 AUTHZ_TOKEN=acme-check.dev-acme-check-secret-0001 \
//     AUTHZ_TENANT=acme node examples/storefront-express/server.js
//   curl -H 'X-Staff: alice' http://127.0.0.1:5002/stores/amazon-us/orders
// The staff login comes from a header here for the demo; a real storefront takes it from
// its own session.
//
// A refund over the staff member's limit (R22) is refused with `requires: approval`; the
// page then offers to ask a manager (R24):
//   POST .../refunds/r-1/approve  {"amount": "250.00"}   (bob)  -> 403 {..., "ask": ".../approval"}
//   POST .../refunds/r-1/approval {"amount": "250.00"}   (bob)  -> 201 {"approval": "<id>"}
//   POST /approvals/<id>/decision {"approve": true}      (carol)
//   POST .../refunds/r-1/approve  {"amount": "250.00", "approval": "<id>"} (bob) -> 200, once
import express from "express";

import { APPROVAL, AuthzClient, AuthzError } from "@store-authz/client";
import { denied, requires } from "@store-authz/client/express";

export function createApp({ url, token, tenant } = {}) {
  const app = express();
  app.use(express.json());
  const authz = new AuthzClient({
    baseUrl: url ?? process.env.AUTHZ_URL, token: token ?? process.env.AUTHZ_TOKEN,
    tenant: tenant ?? process.env.AUTHZ_TENANT, timeoutMs: 1000,
  });
  app.locals.authzClient = authz;
  app.locals.authzSubject = (req) => req.get("x-staff") ?? "";
  const staff = (req) => req.get("x-staff") ?? "";
  const store = (req) => req.params.store;
  const onError = (error) => console.warn(`authorization denied by error: ${error}`);

  app.get("/stores/:store/orders", requires("orders:view", { store, onError }), (req, res) => {
    res.json({ store: req.params.store, orders: ["#1001", "#1002"],
               decided_at_revision: res.locals.authzDecision.revision });
  });

  // A refund the staff member may not make alone: say how to ask for approval.
  const offerApproval = (decision, req, res) => {
    if (decision.requires !== APPROVAL) return denied(decision, req, res);
    res.status(403).json({ error: "forbidden", reason: decision.reason, requires: decision.requires,
                           ask: req.path.replace(/\/[^/]+$/, "/approval") });
  };

  app.post("/stores/:store/refunds/:refund/approve", requires("refunds:approve", {
    store, onError, onDeny: offerApproval,
    context: (req) => ({ second_factor: req.get("x-second-factor") === "1" }),
    amount: (req) => req.body?.amount,
    approval: (req) => req.body?.approval,
  }), (req, res) => {
    res.json({ store: req.params.store, refund: req.params.refund, approved: true,
               amount: req.body?.amount });
  });

  // File the staff member's request; a manager decides it in their queue.
  app.post("/stores/:store/refunds/:refund/approval", async (req, res) => {
    try {
      const filed = await authz.requestApproval({
        subject: staff(req), store: req.params.store, permission: "refunds:approve",
        amount: req.body?.amount, note: `refund ${req.params.refund}` });
      res.status(201).json({ approval: filed.id, state: filed.state });
    } catch (error) {
      res.status(409).json({ error: String(error) });
    }
  });

  // What the signed-in manager may decide.
  app.get("/approvals", async (req, res) => {
    try {
      res.json({ approvals: await authz.approvalQueue(staff(req)) });
    } catch (error) {
      res.status(503).json({ approvals: [], error: String(error) });
    }
  });

  // The signed-in manager's decision; the service checks their right to make it.
  app.post("/approvals/:id/decision", async (req, res) => {
    try {
      const decided = await authz.decideApproval(req.params.id, staff(req), req.body?.approve === true);
      res.json({ approval: decided.id, state: decided.state });
    } catch (error) {
      res.status(403).json({ error: error instanceof AuthzError ? error.message : String(error) });
    }
  });

  // What to show a staff member: one batch call for every item of the menu.
  app.get("/stores/:store/menu", async (req, res) => {
    const items = { orders: "orders:view", refunds: "refunds:approve", prices: "prices:change",
                    staff: "staff:manage" };
    try {
      const decisions = await authz.checkMany(Object.values(items).map(
        (permission) => ({ subject: staff(req), store: req.params.store, permission })));
      res.json({ menu: Object.keys(items).filter((_, i) => decisions[i].allowed) });
    } catch (error) {
      onError(error);
      res.json({ menu: [] }); // nothing shown rather than too much
    }
  });

  return app;
}
