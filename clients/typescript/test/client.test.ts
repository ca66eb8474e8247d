// The client against the real service (test/service.ts starts it): answers, consistency
// tokens, what a subject is allowed, amounts and approvals, and every error thrown, never
// an allow.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";

import {
  AuthzAnswerError,
  AuthzAuthenticationError,
  AuthzBadRequestError,
  AuthzClient,
  AuthzError,
  AuthzForbiddenError,
  AuthzInputError,
  AuthzTimeoutError,
  AuthzUnavailableError,
  type Decision,
} from "../src/index.js";
import { freePort, type Service, startService } from "./service.js";

let service: Service;
let authz: AuthzClient; // the acme check key, on acme's routes
let owner: string;

before(async () => {
  service = await startService();
  owner = service.keys.tenants["acme"]!.owner;
  authz = new AuthzClient({ baseUrl: service.url, token: service.keys.tenants["acme"]!.check,
                            tenant: "acme", timeoutMs: 5000 });
});
after(async () => service?.stop());

async function write(method: string, path: string, body: unknown): Promise<number> {
  const answer = await service.call(method, `/v1/tenants/acme${path}`, owner, body);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.revision as number;
}

describe("checks", () => {
  test("answers with the reason, what would allow it and the revision", async () => {
    const yes = await authz.check({ subject: "alice", store: "amazon-us", permission: "orders:view" });
    assert.equal(yes.allowed, true);
    assert.equal(yes.reason, "granted");
    assert.equal(yes.requires, null);
    assert.ok(Number.isInteger(yes.revision) && yes.revision! >= 1);
    // alice is not assigned shopee-sg (R14)
    const no = await authz.check({ subject: "alice", store: "shopee-sg", permission: "orders:view" });
    assert.deepEqual([no.allowed, no.reason], [false, "not_assigned"]);
  });

  test("the key's route and the tenant's route give the same answers", async () => {
    const keyRoute = new AuthzClient({ baseUrl: service.url, token: service.keys.tenants["acme"]!.check,
                                       timeoutMs: 5000 });
    for (const [subject, store, object, action] of [
      ["alice", "amazon-us", "orders", "view"], ["bob", "shopee-sg", "refunds", "approve"],
      ["nobody", "amazon-us", "orders", "view"], ["owner", "shopee-sg", "finance", "withdraw"],
    ] as const) {
      const one = await keyRoute.check({ subject, store, object, action });
      const other = await authz.check({ subject, store, permission: `${object}:${action}` });
      assert.deepEqual(one, other, `${subject} ${store} ${object}:${action}`);
    }
  });

  test("a batch answers in order, each as a single check would", async () => {
    const questions = [
      { subject: "alice", store: "amazon-us", permission: "orders:view" },
      { subject: "alice", store: "shopee-sg", permission: "orders:view" },
      { subject: "bob", store: "shopee-sg", permission: "staff:manage" },
      { subject: "owner", store: "amazon-us", permission: "finance:withdraw" },
    ];
    const batch = await authz.checkMany(questions);
    const one = await Promise.all(questions.map((question) => authz.check(question)));
    assert.deepEqual(batch.map(({ allowed, reason }) => [allowed, reason]),
                     one.map(({ allowed, reason }) => [allowed, reason]));
    assert.deepEqual(batch.map((d) => d.allowed), [true, false, false, true]);
  });

  test("a write's revision, passed back, is read by the check that follows", async () => {
    const revision = await write("PUT", "/subaccounts/alice/status", { disabled: true, reason: "on leave" });
    try {
      const after = await authz.check({ subject: "alice", store: "amazon-us", permission: "orders:view" },
                                      { atLeastRevision: revision });
      assert.deepEqual([after.allowed, after.reason], [false, "disabled"]);
      assert.ok(after.revision! >= revision);
      assert.ok(authz.newestRevision()! >= revision);
    } finally {
      await write("PUT", "/subaccounts/alice/status", { disabled: false, reason: "back" });
    }
  });

  test("what a subject is allowed equals its checks, permission by permission and store by store", async () => {
    const catalogue = await service.call("GET", "/v1/tenants/acme/catalogue", owner);
    const names: string[] = catalogue.body.permissions.map((p: { name: string }) => p.name);
    const allowed = await authz.allowedPermissions("bob", "shopee-sg");
    const checked = await authz.checkMany(names.map((permission) => ({ subject: "bob", store: "shopee-sg", permission })));
    assert.deepEqual([...allowed.items].sort(), names.filter((_, i) => checked[i]!.allowed).sort());
    assert.ok(allowed.items.size > 0);

    const stores = ["amazon-us", "shopee-sg", "tmall-flagship"];
    const where = await authz.allowedStores("bob", "orders:view");
    const each = await Promise.all(stores.map((store) => authz.check({ subject: "bob", store, permission: "orders:view" })));
    assert.deepEqual([...where.items].sort(), stores.filter((_, i) => each[i]!.allowed).sort());
  });
});

describe("amounts and approvals", () => {
  before(async () => {
    // bob may refund up to 200.00 in amazon-us; over it, a manager approves (R22-R24)
    const roles = await service.call("GET", "/v1/tenants/acme/roles", owner);
    const held: string[] = roles.body.roles.find((r: { role: string }) => r.role === "customer-service").permissions;
    await write("PUT", "/roles/customer-service", { permissions: [...held, "refunds:approve"],
                                                    limits: { "refunds:approve": "200.00" } });
    await write("PUT", "/subaccounts/bob/stores", { stores: ["shopee-sg", "amazon-us"] });
    await write("POST", "/permissions", { subject: "carol", store: "amazon-us", permission: "approvals:decide" });
    await write("PUT", "/approval-modes/refunds:approve", { mode: "over_limit" });
  });

  const refund = (amount?: string | number | bigint, approval?: string) =>
    authz.check({ subject: "bob", store: "amazon-us", permission: "refunds:approve", amount, approval });

  test("an amount within the limit is allowed, over it asks for an approval", async () => {
    assert.equal((await refund("150.00")).allowed, true);
    assert.equal((await refund(200)).allowed, true);
    assert.equal((await refund(150n)).allowed, true);
    const over = await refund("250.00");
    assert.deepEqual([over.allowed, over.reason, over.requires], [false, "limit_exceeded", "approval"]);
    const none = await refund();
    assert.deepEqual([none.allowed, none.reason], [false, "amount_required"]);
  });

  test("a fractional number is refused before anything is sent: a float cannot carry every cent", async () => {
    await assert.rejects(refund(0.1 + 0.2), AuthzInputError);
    await assert.rejects(refund(Number.NaN), AuthzInputError);
  });

  test("filed, queued, decided by another, used once", async () => {
    const filed = await authz.requestApproval({ subject: "bob", store: "amazon-us",
                                                permission: "refunds:approve", amount: "250.00",
                                                note: "refund r-7" });
    assert.equal(filed.state, "pending");
    assert.deepEqual((await refund("250.00", filed.id)).reason, "approval_pending");
    assert.deepEqual((await authz.approvalQueue("carol")).map((a) => a.id), [filed.id]);
    assert.deepEqual(await authz.approvalQueue("bob"), []);
    // never the requester (R24)
    await assert.rejects(authz.decideApproval(filed.id, "bob", true), (error: unknown) => {
      assert.ok(error instanceof AuthzForbiddenError);
      assert.deepEqual(error.fields, ["approver"]);
      return true;
    });
    const decided = await authz.decideApproval(filed.id, "carol", true, "ok");
    assert.equal(decided.state, "approved");
    const used = await refund("250.00", filed.id);
    assert.deepEqual([used.allowed, used.reason], [true, "granted"]);
    const again = await refund("250.00", filed.id);
    assert.deepEqual([again.allowed, again.reason], [false, "approval_used"]);
  });
});

describe("errors are thrown, typed, never an allow", () => {
  const question = { subject: "alice", store: "amazon-us", permission: "orders:view" };

  test("a wrong key, another tenant, a bad field", async () => {
    const wrong = new AuthzClient({ baseUrl: service.url, token: "acme-check.not-the-right-secret-00",
                                    timeoutMs: 5000 });
    await assert.rejects(wrong.check(question), AuthzAuthenticationError);
    const elsewhere = new AuthzClient({ baseUrl: service.url, token: service.keys.tenants["acme"]!.check,
                                        tenant: "globex", timeoutMs: 5000 });
    await assert.rejects(elsewhere.check(question), AuthzForbiddenError);
    await assert.rejects(authz.check({ ...question, subject: "al,ice" }), (error: unknown) => {
      assert.ok(error instanceof AuthzBadRequestError);
      assert.deepEqual(error.fields, ["subject"]);
      return true;
    });
    await assert.rejects(authz.check({ ...question, permission: "orders" }), AuthzInputError);
  });

  test("nothing listening: unavailable, after the retries", async () => {
    const down = new AuthzClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, token: "k", retries: 1 });
    await assert.rejects(down.check(question), AuthzUnavailableError);
  });

  describe("a service that misbehaves", () => {
    let server: Server;
    let url: string;
    let answer: (res: import("node:http").ServerResponse) => void = () => {};
    before(async () => {
      server = createServer((_req, res) => answer(res));
      await new Promise<void>((done) => server.listen(0, "127.0.0.1", () => done()));
      const address = server.address();
      url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    });
    after(() => { server.closeAllConnections(); server.close(); });

    const cases: [string, (res: import("node:http").ServerResponse) => void, new (...a: any[]) => AuthzError][] = [
      ["silent past the timeout", () => {}, AuthzTimeoutError],
      ["a proxy's HTML page", (res) => res.writeHead(200, { "content-type": "text/html" }).end("<h1>ok</h1>"), AuthzAnswerError],
      ["allowed as a string", (res) => res.writeHead(200).end('{"allowed": "yes", "revision": 1, "reason": "granted", "requires": null}'), AuthzAnswerError],
      ["allowed with a deny's reason", (res) => res.writeHead(200).end('{"allowed": true, "revision": 1, "reason": "no_grant", "requires": null}'), AuthzAnswerError],
      ["allowed without a revision", (res) => res.writeHead(200).end('{"allowed": true, "reason": "granted", "requires": null}'), AuthzAnswerError],
      ["a 503", (res) => res.writeHead(503).end('{"code": 503, "message": "down"}'), AuthzError],
      ["half a body", (res) => { res.writeHead(200); res.write('{"allowed": tr'); res.destroy(); }, AuthzError],
    ];
    for (const [what, respond, kind] of cases) {
      test(what, async () => {
        answer = respond;
        const client = new AuthzClient({ baseUrl: url, token: "k", timeoutMs: 300 });
        let decision: Decision | undefined;
        await assert.rejects(async () => { decision = await client.check(question); }, kind);
        assert.equal(decision, undefined);
      });
    }
  });
});
