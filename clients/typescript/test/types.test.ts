// The types are the service's: openapi.json is the document the running service serves,
// and src/openapi.ts is what scripts/types.mjs makes of it. Either stale fails here; `make
// client-types` writes both.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";

import { type Service, startService } from "./service.js";

let service: Service;
before(async () => { service = await startService(); });
after(async () => service?.stop());

const scripts = new URL("../../scripts/types.mjs", import.meta.url).href;

test("openapi.json is the document the service serves", async () => {
  const { DOCUMENT } = await import(scripts);
  const committed = JSON.parse(await readFile(DOCUMENT, "utf8"));
  const served = await (await fetch(`${service.url}/openapi.json`)).json();
  assert.deepEqual(committed, served, "openapi.json is stale: run `make client-types`");
});

test("src/openapi.ts is generated from openapi.json", async () => {
  const { TYPES, generate } = await import(scripts);
  assert.equal(await readFile(TYPES, "utf8"), await generate(),
               "src/openapi.ts is stale: run `make client-types`");
});
