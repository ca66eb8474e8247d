// The Express middleware against the real service: a route runs only when allowed; a denial
// is a 403 saying why; an error, a timeout or a broken option is a 403 and the route never runs.
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";

import express, { type Request } from "express";

import { AuthzClient, type Decision } from "../src/index.js";
import { requires } from "../src/express.js";
import { freePort, type Service, startService } from "./service.js";

let service: Service;
let checkKey: string;
const ran: string[] = [];

before(async () => {
  service = await startService();
  checkKey = service.keys.tenants["acme"]!.check;
});
after(async () => service?.stop());

/** A storefront with guarded routes, serving on a free port; `client` is what it asks. */
async function storefront(client: AuthzClient, errors: unknown[] = []): Promise<{ url: string; close: () => void }> {
  const app = express();
  app.use(express.json());
  app.locals["authzClient"] = client;
  app.locals["authzSubject"] = (req: Request) => req.get("x-staff") ?? "";
  const store = (req: Request) => req.params["store"] as string;
  const onError = (error: unknown) => errors.push(error);
  app.get("/stores/:store/orders", requires("orders:view", { store, onError }), (req, res) => {
    ran.push(req.path);
    res.json({ orders: ["#1001"], revision: (res.locals["authzDecision"] as Decision).revision });
  });
  app.post("/stores/:store/refunds/:id/approve", requires("refunds:approve", {
    store, onError,
    amount: (req) => req.body?.amount,
    context: (req) => ({ second_factor: req.get("x-second-factor") === "1" }),
  }), (req, res) => { ran.push(req.path); res.json({ approved: true }); });
  app.get("/broken/:store", requires("orders:view", {
    store: () => { throw new Error("no store in this session"); }, onError,
  }), (req, res) => { ran.push(req.path); res.json({}); });
  app.get("/custom/:store", requires("staff:manage", {
    store, onError, onDeny: (decision, _req, res) => { res.status(302).set("location", `/why?${decision.reason}`).end(); },
  }), (req, res) => { ran.push(req.path); res.json({}); });
  const server = app.listen(0, "127.0.0.1");
  await new Promise((done) => server.once("listening", done));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
           close: () => { server.closeAllConnections(); server.close(); } };
}

const get = (url: string, staff: string, headers: Record<string, string> = {}) =>
  fetch(url, { headers: { "x-staff": staff, ...headers }, redirect: "manual" });

describe("requires(...) with the service answering", () => {
  let shop: { url: string; close: () => void };
  const errors: unknown[] = [];
  before(async () => {
    shop = await storefront(new AuthzClient({ baseUrl: service.url, token: checkKey, tenant: "acme", timeoutMs: 5000 }), errors);
  });
  after(() => shop.close());

  test("allowed: the route runs and sees the decision", async () => {
    const response = await get(`${shop.url}/stores/amazon-us/orders`, "alice");
    assert.equal(response.status, 200);
    assert.ok((await response.json()).revision >= 1);
  });

  test("denied: 403 with the reason and what would allow it, the route never runs", async () => {
    ran.length = 0;
    const response = await get(`${shop.url}/stores/shopee-sg/orders`, "alice");
    assert.equal(response.status, 403);
    assert.deepEqual(await response.json(), { error: "forbidden", reason: "not_assigned", requires: null });
    assert.deepEqual(ran, []);
  });

  test("step-up: the context a request carries decides", async () => {
    const set = (stepUp: boolean) => service.call("PATCH", "/v1/tenants/acme/settings",
                                                  service.keys.tenants["acme"]!.owner, { step_up: stepUp });
    const approve = (headers: Record<string, string>) => fetch(`${shop.url}/stores/shopee-sg/refunds/r-1/approve`, {
      method: "POST", headers: { "x-staff": "bob", "content-type": "application/json", ...headers }, body: "{}" });
    assert.equal((await set(true)).status, 200);
    try {
      const without = await approve({});
      assert.equal(without.status, 403);
      assert.deepEqual(await without.json(), { error: "forbidden", reason: "step_up_required", requires: "second_factor" });
      assert.equal((await approve({ "x-second-factor": "1" })).status, 200);
    } finally {
      await set(false);
    }
  });

  test("an option that throws is a 403 without a decision, and onError hears why", async () => {
    ran.length = 0;
    errors.length = 0;
    const response = await get(`${shop.url}/broken/amazon-us`, "alice");
    assert.equal(response.status, 403);
    assert.deepEqual(await response.json(), { error: "forbidden", reason: null, requires: null });
    assert.deepEqual(ran, []);
    assert.match(String(errors[0]), /no store in this session/);
  });

  test("onDeny answers a denial its own way", async () => {
    const response = await get(`${shop.url}/custom/amazon-us`, "alice");
    assert.equal(response.status, 302);
    assert.equal(response.headers.get("location"), "/why?no_grant");
    const owner = await get(`${shop.url}/custom/amazon-us`, "owner");
    assert.equal(owner.status, 200);
  });
});

describe("requires(...) fails closed", () => {
  test("nothing listening: 403, the route never runs", async () => {
    ran.length = 0;
    const errors: unknown[] = [];
    const shop = await storefront(new AuthzClient({ baseUrl: `http://127.0.0.1:${await freePort()}`,
                                                    token: checkKey, retries: 0 }), errors);
    try {
      const response = await get(`${shop.url}/stores/amazon-us/orders`, "alice");
      assert.equal(response.status, 403);
      assert.deepEqual(ran, []);
      assert.equal((errors[0] as Error).name, "AuthzUnavailableError");
    } finally {
      shop.close();
    }
  });

  test("a service that does not answer within the timeout: 403 in about the timeout", async () => {
    const silent: Server = createServer(() => {}); // accepts, never answers
    await new Promise<void>((done) => silent.listen(0, "127.0.0.1", () => done()));
    const errors: unknown[] = [];
    const shop = await storefront(new AuthzClient({
      baseUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, token: checkKey, timeoutMs: 200 }), errors);
    try {
      ran.length = 0;
      const started = performance.now();
      const response = await get(`${shop.url}/stores/amazon-us/orders`, "alice");
      const waited = performance.now() - started;
      assert.equal(response.status, 403);
      assert.deepEqual(ran, []);
      assert.equal((errors[0] as Error).name, "AuthzTimeoutError");
      assert.ok(waited < 5000, `answered after ${waited} ms`);
    } finally {
      shop.close();
      silent.closeAllConnections();
      silent.close();
    }
  });

  test("a wrong key: 403, never the route", async () => {
    ran.length = 0;
    const shop = await storefront(new AuthzClient({ baseUrl: service.url, token: "acme-check.not-the-right-secret-00" }));
    try {
      assert.equal((await get(`${shop.url}/stores/amazon-us/orders`, "alice")).status, 403);
      assert.deepEqual(ran, []);
    } finally {
      shop.close();
    }
  });

  test("a permission that is not area:action is refused when the route is declared", () => {
    assert.throws(() => requires("orders", { store: "amazon-us" }), TypeError);
  });
});
