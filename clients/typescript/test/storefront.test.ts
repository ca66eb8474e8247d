// The Express example storefront (examples/storefront-express) against the real service: the
// same walk as the Flask example's test, through the installed package.
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, test } from "node:test";

import { ROOT, type Service, startService } from "./service.js";

let service: Service;
let url: string;
let close: () => void;

before(async () => {
  service = await startService();
  const example = pathToFileURL(join(ROOT, "examples", "storefront-express", "app.js")).href;
  const { createApp } = await import(example);
  const server = createApp({ url: service.url, token: service.keys.tenants["acme"]!.check, tenant: "acme" })
    .listen(0, "127.0.0.1");
  await new Promise((done) => server.once("listening", done));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => { server.closeAllConnections(); server.close(); };
});
after(async () => { close?.(); await service?.stop(); });

const as = (staff: string, method = "GET", body?: unknown) => ({
  method, headers: { "x-staff": staff, "content-type": "application/json" },
  body: body === undefined ? undefined : JSON.stringify(body),
});

test("staff see only what the policy allows", async () => {
  const ok = await fetch(`${url}/stores/amazon-us/orders`, as("alice"));
  assert.equal(ok.status, 200);
  assert.ok((await ok.json()).decided_at_revision >= 1);
  assert.equal((await fetch(`${url}/stores/shopee-sg/orders`, as("alice"))).status, 403);
  assert.equal((await fetch(`${url}/stores/amazon-us/orders`, as("nobody"))).status, 403);
});

test("the menu is one batch", async () => {
  const menu = await (await fetch(`${url}/stores/shopee-sg/menu`, as("bob"))).json();
  assert.deepEqual(menu.menu, ["orders", "refunds"]); // staff:manage is owner-only (R13)
});

test("a refund over the limit goes through an approval, used once", async () => {
  const owner = service.keys.tenants["acme"]!.owner;
  const roles = await service.call("GET", "/v1/tenants/acme/roles", owner);
  const held: string[] = roles.body.roles.find((r: { role: string }) => r.role === "customer-service").permissions;
  for (const [method, path, body] of [
    ["PUT", "/roles/customer-service", { permissions: [...held, "refunds:approve"], limits: { "refunds:approve": "200.00" } }],
    ["PUT", "/subaccounts/bob/stores", { stores: ["shopee-sg", "amazon-us"] }],
    ["POST", "/permissions", { subject: "carol", store: "amazon-us", permission: "approvals:decide" }],
    ["PUT", "/approval-modes/refunds:approve", { mode: "over_limit" }],
  ] as const) {
    assert.equal((await service.call(method, `/v1/tenants/acme${path}`, owner, body)).status, 200);
  }
  const refund = `${url}/stores/amazon-us/refunds/r-7/approve`;
  assert.equal((await fetch(refund, as("bob", "POST", { amount: "150.00" }))).status, 200);
  const over = await fetch(refund, as("bob", "POST", { amount: "250.00" }));
  assert.equal(over.status, 403);
  const said = await over.json();
  assert.deepEqual(said, { error: "forbidden", reason: "limit_exceeded", requires: "approval",
                           ask: "/stores/amazon-us/refunds/r-7/approval" });
  const asked = await fetch(url + said.ask, as("bob", "POST", { amount: "250.00" }));
  assert.equal(asked.status, 201);
  const { approval } = await asked.json();
  const queue = await (await fetch(`${url}/approvals`, as("carol"))).json();
  assert.deepEqual(queue.approvals.map((a: { id: string }) => a.id), [approval]);
  assert.equal((await fetch(`${url}/approvals/${approval}/decision`, as("bob", "POST", { approve: true }))).status, 403);
  const decided = await fetch(`${url}/approvals/${approval}/decision`, as("carol", "POST", { approve: true }));
  assert.deepEqual(await decided.json(), { approval, state: "approved" });
  const withIt = { amount: "250.00", approval };
  assert.equal((await fetch(refund, as("bob", "POST", withIt))).status, 200);
  const again = await fetch(refund, as("bob", "POST", withIt));
  assert.equal(again.status, 403);
  assert.equal((await again.json()).reason, "approval_used");
});
