// The real service for the tests: gunicorn serving the seed policy from a fresh SQLite file
// on a free loopback port, started from the repository's virtualenv (AUTHZ_PYTHON names
// another interpreter), as `make run` starts it.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// build-test/test/ -> the repository
export const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../../..");
const PYTHON = process.env["AUTHZ_PYTHON"] ?? join(ROOT, ".venv", "bin", "python");

export interface Keys {
  admin: string;
  tenants: Record<string, { owner: string; check: string; audit: string }>;
}

export interface Service {
  url: string;
  keys: Keys;
  /** A request with a key, answered as JSON (what the tests use to write and to compare). */
  call(method: string, path: string, key: string, body?: unknown): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => done(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export async function startService(): Promise<Service> {
  const directory = mkdtempSync(join(tmpdir(), "authz-ts-"));
  const env = {
    ...process.env,
    AUTHZ_DATABASE_URL: `sqlite:///${join(directory, "authz.db")}`,
    AUTHZ_MODE: "development",
  };
  execFileSync(PYTHON, ["-m", "flask", "--app", "service", "init-db", "--seed"],
               { cwd: ROOT, env, stdio: "pipe" });
  // The development keys the seed is served with: read from the service, not copied here.
  const keys = JSON.parse(execFileSync(PYTHON, ["-c",
    "import json; from service import config; "
    + "print(json.dumps({'admin': config.DEV_ADMIN_KEY, 'tenants': config.DEV_TENANT_KEYS}))"],
    { cwd: ROOT, env, encoding: "utf8" })) as Keys;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = "";
  const gunicorn: ChildProcess = spawn(
    PYTHON, ["-m", "gunicorn", "--config", "gunicorn.conf.py", "service:create_app()"],
    { cwd: ROOT, env: { ...env, PORT: String(port), WEB_CONCURRENCY: "2" },
      stdio: ["ignore", "ignore", "pipe"] });
  gunicorn.stderr?.on("data", (chunk: Buffer) => { log = (log + chunk.toString()).slice(-4000); });
  const exited = new Promise<void>((done) => gunicorn.once("exit", () => done()));

  const stop = async () => {
    gunicorn.kill("SIGTERM");
    await exited;
    rmSync(directory, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(url + "/health")).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || gunicorn.exitCode !== null) {
      await stop();
      throw new Error(`the service did not start:\n${log}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }

  const call = async (method: string, path: string, key: string, body?: unknown) => {
    const response = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  return { url, keys, call, stop };
}
