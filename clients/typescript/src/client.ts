/**
 * The client: checks (one or a batch), what a subject is allowed, and approvals, typed from
 * the service's OpenAPI document (openapi.ts is generated from openapi.json; a test fails
 * when either is stale).
 *
 *     const authz = new AuthzClient({ baseUrl: "http://authz:8080", token, tenant: "acme" });
 *     const decision = await authz.check({ subject: "alice", store: "amazon-us",
 *                                          permission: "orders:view" });
 *     if (decision.allowed) ...
 *
 * A decision is the service's answer; anything else (no connection, a timeout, an HTTP
 * error, a body that is not the documented answer) is thrown as an AuthzError, so it can
 * never be read as an allow.
 */

import {
  AuthzAnswerError,
  AuthzInputError,
  AuthzTimeoutError,
  AuthzUnavailableError,
  httpError,
  type ErrorBody,
} from "./errors.js";
import type { components } from "./openapi.js";

type Schemas = components["schemas"];
export type Reason = Schemas["CheckResult"]["reason"];
export type Requires = Schemas["CheckResult"]["requires"];
export type CheckContext = Schemas["Context"];
export type ApprovalDocument = Schemas["ApprovalAnswer"];

export const SECOND_FACTOR = "second_factor";
export const APPROVAL = "approval";

/** What an action moves (R22): a decimal string ("150.00"), or whole units as an integer. */
export type Amount = string | number | bigint;

/** One question. Name the permission ("orders:view") or its object and action apart; a
 * product-scoped question asks object "product/<id>". */
export type CheckQuestion = {
  subject: string;
  store: string;
  context?: CheckContext;
  /** What the action moves (R22); goes in context.amount. */
  amount?: Amount;
  /** The id of an approved request this action uses (R24: allowed once); never cached. */
  approval?: string;
} & ({ permission: string; object?: never; action?: never } | { object: string; action: string; permission?: never });

export interface Decision {
  readonly allowed: boolean;
  /** The tenant's revision this was decided at: pass it as `atLeastRevision` to read your writes. */
  readonly revision: number | null;
  /** Why, as the service's stable code (README: "Why a check is answered as it is"). */
  readonly reason: Reason;
  /** What would allow it: a second factor or an approval, or nothing. */
  readonly requires: Requires;
  /** Set when the service could not decide and denied (tenant_unavailable, error). */
  readonly error?: string;
}

export interface Allowed {
  readonly items: ReadonlySet<string>;
  readonly revision: number;
  /** Permissions allowed only up to an amount, with that amount (R22); not in `items`. */
  readonly limits: Readonly<Record<string, string>>;
}

export interface CallOptions {
  /** The tenant this call is about: needed with an app's key, which serves many (R21). */
  tenant?: string;
}

export interface CheckOptions extends CallOptions {
  /** Wait (briefly) until the answering worker holds at least this revision. */
  atLeastRevision?: number;
}

export interface ClientOptions {
  baseUrl: string;
  /** A bearer key: a tenant's check key for checks, its owner key for approvals' admin. */
  token: string;
  /** The key's tenant. Given, calls go to /v1/tenants/{tenant}/..., which a load balancer
   * routes on; without it, checks go to /check (the key names the tenant). */
  tenant?: string;
  /** Per request, in milliseconds; no answer in time is an AuthzTimeoutError. */
  timeoutMs?: number;
  /** Retries when the connection was refused (the service never saw the request). */
  retries?: number;
  /** Headers sent with every request, e.g. () => ({ traceparent }) to join a trace. */
  headers?: () => Record<string, string>;
  fetch?: typeof fetch;
}

const REASONS: ReadonlySet<string> = new Set<Reason>([
  "granted", "no_grant", "not_assigned", "explicit_deny", "disabled", "step_up_required",
  "not_product_operator", "limit_exceeded", "amount_required", "approval_required",
  "approval_not_valid", "approval_pending", "approval_rejected", "approval_expired",
  "approval_used", "approval_mismatch", "app_not_installed", "unknown_tenant",
  "tenant_unavailable", "error",
]);

export class AuthzClient {
  readonly baseUrl: string;
  readonly tenant: string | undefined;
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly extraHeaders: (() => Record<string, string>) | undefined;
  private readonly fetcher: typeof fetch;
  /** The newest revision seen per tenant ("" for the key's own, on /check). */
  private readonly seen = new Map<string, number>();

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.token = options.token;
    this.tenant = options.tenant;
    this.timeoutMs = options.timeoutMs ?? 500;
    this.retries = options.retries ?? 2;
    this.extraHeaders = options.headers;
    this.fetcher = options.fetch ?? fetch;
  }

  /** The newest revision any answer about `tenant` has shown (a consistency token). */
  newestRevision(tenant?: string): number | undefined {
    return this.seen.get(tenant ?? this.tenant ?? "");
  }

  async check(question: CheckQuestion, options: CheckOptions = {}): Promise<Decision> {
    const body: Schemas["SingleCheck"] = checkBody(question);
    if (options.atLeastRevision !== undefined) body.at_least_revision = options.atLeastRevision;
    const answer = await this.request("POST", this.checkPath(options.tenant), { body });
    return this.decision(answer, options.tenant);
  }

  /** Up to the service's batch size, answered in order, all at one revision. */
  async checkMany(questions: CheckQuestion[], options: CheckOptions = {}): Promise<Decision[]> {
    const body: Schemas["CheckBatch"] = { checks: questions.map(checkBody) };
    if (options.atLeastRevision !== undefined) body.at_least_revision = options.atLeastRevision;
    const answer = await this.request("POST", this.checkPath(options.tenant) + "/batch", { body });
    const results = answer["results"];
    const revision = answer["revision"];
    if (!Array.isArray(results) || results.length !== questions.length
        || !(revision === null || Number.isInteger(revision))) {
      throw unexpected(answer);
    }
    this.saw(options.tenant, revision as number | null);
    return results.map((item: unknown) => {
      if (item === null || typeof item !== "object") throw unexpected(answer);
      return readDecision(item as Record<string, unknown>, revision as number | null, answer);
    });
  }

  /** Every permission `subject` is allowed in `store` (menus, buttons) in one request. */
  async allowedPermissions(subject: string, store: string,
                           options: CallOptions & { secondFactor?: boolean } = {}): Promise<Allowed> {
    const answer = await this.request("GET", this.tenantPath(options.tenant) + "/allowed/permissions", {
      query: { subject, store, second_factor: String(options.secondFactor ?? false) },
    });
    const names = answer["permissions"];
    const limits = answer["limits"] ?? {};
    if (!isStrings(names) || !Number.isInteger(answer["revision"]) || !isStringRecord(limits)) {
      throw unexpected(answer);
    }
    this.saw(options.tenant, answer["revision"] as number);
    return { items: new Set(names), revision: answer["revision"] as number, limits };
  }

  /** Every store where `subject` is allowed `permission`: all pages, at one revision. */
  async allowedStores(subject: string, permission: string,
                      options: CallOptions & { secondFactor?: boolean } = {}): Promise<Allowed> {
    const stores: string[] = [];
    let revision: number | undefined;
    for (let page = 1; ; page++) {
      const answer = await this.request("GET", this.tenantPath(options.tenant) + "/allowed/stores", {
        query: { subject, permission, second_factor: String(options.secondFactor ?? false),
                 page: String(page), per_page: "1000" },
      });
      const items = answer["stores"];
      const total = answer["total"];
      if (!isStrings(items) || !Number.isInteger(total) || !Number.isInteger(answer["revision"])) {
        throw unexpected(answer);
      }
      if (revision !== undefined && answer["revision"] !== revision) {
        // pages at two revisions would mix two policies
        throw new AuthzAnswerError("the policy changed while its pages were read; ask again");
      }
      revision = answer["revision"] as number;
      stores.push(...items);
      if (stores.length >= (total as number) || items.length === 0) {
        this.saw(options.tenant, revision);
        return { items: new Set(stores), revision, limits: {} };
      }
    }
  }

  /** File a request for `subject`'s action (R24): possible when a check of it answered
   * `requires: "approval"`. Its id, once approved, goes in check({ approval }). */
  async requestApproval(request: { subject: string; store: string; permission: string;
                                   amount?: Amount; product?: string; note?: string },
                        options: CallOptions = {}): Promise<ApprovalDocument & { id: string }> {
    const body: Schemas["NewApproval"] = {
      subject: request.subject, store: request.store, permission: request.permission,
      note: request.note ?? "",
    };
    if (request.amount !== undefined) body.amount = amountText(request.amount);
    if (request.product !== undefined) body.product = request.product;
    return approval(await this.request("POST", this.tenantPath(options.tenant) + "/approvals",
                                       { body, ok: 201 }));
  }

  /** `approver`'s decision; the service checks that they may make it (never the requester). */
  async decideApproval(id: string, approver: string, approve: boolean, note = "",
                       options: CallOptions = {}): Promise<ApprovalDocument & { id: string }> {
    const body: Schemas["ApprovalDecision"] = { approver, approve, note };
    return approval(await this.request(
      "POST", `${this.tenantPath(options.tenant)}/approvals/${encodeURIComponent(id)}/decision`, { body }));
  }

  /** The pending requests `approver` may decide now (the first 200). */
  async approvalQueue(approver: string, options: CallOptions = {}): Promise<ApprovalDocument[]> {
    const answer = await this.request("GET", this.tenantPath(options.tenant) + "/approvals", {
      query: { approver, per_page: "200" },
    });
    const items = answer["items"];
    if (!Array.isArray(items)) throw unexpected(answer);
    return items.map((item) => approval(item as Record<string, unknown>));
  }

  // -- answers ------------------------------------------------------------------------------
  private decision(answer: Record<string, unknown>, tenant: string | undefined): Decision {
    const revision = answer["revision"];
    if (answer["allowed"] === false && typeof answer["error"] === "string") {
      // the service could not decide (tenant_unavailable...): a deny that says why
      return Object.freeze({ ...readDecision(answer, null, answer), error: answer["error"] });
    }
    if (!Number.isInteger(revision)) throw unexpected(answer);
    this.saw(tenant, revision as number);
    return readDecision(answer, revision as number, answer);
  }

  /** Remember the newest revision an answer about `tenant` (the client's, when undefined) showed. */
  private saw(tenant: string | undefined, revision: number | null): void {
    if (revision === null) return;
    const key = tenant ?? this.tenant ?? "";
    if (revision > (this.seen.get(key) ?? -1)) this.seen.set(key, revision);
  }

  private checkPath(tenant: string | undefined): string {
    const named = tenant ?? this.tenant;
    return named === undefined ? "/check" : `/v1/tenants/${encodeURIComponent(named)}/check`;
  }

  private tenantPath(tenant: string | undefined): string {
    const named = tenant ?? this.tenant;
    if (named === undefined) {
      throw new AuthzInputError("name the tenant (here or as new AuthzClient({ tenant }))");
    }
    return `/v1/tenants/${encodeURIComponent(named)}`;
  }

  // -- transport ----------------------------------------------------------------------------
  private async request(method: "GET" | "POST", path: string,
                        call: { body?: unknown; query?: Record<string, string>; ok?: number }
  ): Promise<Record<string, unknown>> {
    const url = new URL(this.baseUrl + path);
    for (const [name, value] of Object.entries(call.query ?? {})) url.searchParams.set(name, value);
    const headers: Record<string, string> = {
      ...(this.extraHeaders?.() ?? {}),
      authorization: `Bearer ${this.token}`,
      accept: "application/json",
    };
    if (call.body !== undefined) headers["content-type"] = "application/json";
    let response: Response | undefined;
    for (let attempt = 0; response === undefined; attempt++) {
      try {
        response = await this.fetcher(url, {
          method, headers, body: call.body === undefined ? undefined : JSON.stringify(call.body),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        if (isTimeout(error)) {
          throw new AuthzTimeoutError(`no answer from ${url.origin} within ${this.timeoutMs} ms`);
        }
        if (!refused(error) || attempt >= this.retries) {
          throw new AuthzUnavailableError(`${method} ${url.pathname} failed: ${describe(error)}`,
                                          { cause: error });
        }
        await new Promise((resolve) => setTimeout(resolve, 50 * (attempt + 1)));
      }
    }
    let answer: unknown;
    try {
      answer = JSON.parse(await response.text());
    } catch (error) {
      if (isTimeout(error)) {
        throw new AuthzTimeoutError(`no whole answer from ${url.origin} within ${this.timeoutMs} ms`);
      }
      answer = undefined;
    }
    if (response.status !== (call.ok ?? 200)) {
      const body = isRecord(answer) ? (answer as ErrorBody) : undefined;
      throw httpError(response.status, body, response.headers.get("retry-after"));
    }
    if (!isRecord(answer)) throw unexpected(answer);
    return answer;
  }
}

function checkBody(question: CheckQuestion): Schemas["Check"] {
  let object = question.object;
  let action = question.action;
  if (question.permission !== undefined) {
    const at = question.permission.lastIndexOf(":");
    if (at <= 0 || at === question.permission.length - 1) {
      throw new AuthzInputError(`permission must be "area:action", not ${JSON.stringify(question.permission)}`);
    }
    object = question.permission.slice(0, at);
    action = question.permission.slice(at + 1);
  }
  const body: Schemas["Check"] = {
    subject: question.subject, store: question.store, object: object!, action: action!,
  };
  if (question.context !== undefined || question.amount !== undefined || question.approval !== undefined) {
    const context: CheckContext = { ...(question.context ?? {}) };
    if (question.amount !== undefined) context.amount = amountText(question.amount);
    if (question.approval !== undefined) context.approval = question.approval;
    body.context = context;
  }
  return body;
}

/** An amount as the service reads it: a decimal string. A fractional number is refused:
 * binary floating point cannot carry every cent (0.1 + 0.2). */
export function amountText(amount: Amount): string {
  if (typeof amount === "string") return amount;
  if (typeof amount === "bigint") return amount.toString();
  if (typeof amount === "number" && Number.isSafeInteger(amount)) return String(amount);
  throw new AuthzInputError(
    `amount must be a decimal string ("150.25"), an integer or a bigint, not ${String(amount)}`);
}

function readDecision(item: Record<string, unknown>, revision: number | null,
                      answer: unknown): Decision {
  const { allowed, reason, requires } = item;
  if (typeof allowed !== "boolean" || typeof reason !== "string" || !REASONS.has(reason)
      || !(requires === null || requires === SECOND_FACTOR || requires === APPROVAL)
      || (allowed && reason !== "granted")) {
    throw unexpected(answer);
  }
  return Object.freeze({ allowed, revision, reason: reason as Reason, requires: requires as Requires });
}

function approval(answer: Record<string, unknown>): ApprovalDocument & { id: string } {
  if (typeof answer["id"] !== "string" || typeof answer["state"] !== "string") throw unexpected(answer);
  return answer as ApprovalDocument & { id: string };
}

function unexpected(answer: unknown): AuthzAnswerError {
  return new AuthzAnswerError(`unexpected answer: ${JSON.stringify(answer)?.slice(0, 200)}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return isRecord(value) && Object.values(value).every((item) => typeof item === "string");
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
}

/** Refused before anything was sent: safe to try again. */
function refused(error: unknown): boolean {
  const cause = error instanceof Error ? (error.cause as { code?: string } | undefined) : undefined;
  return cause?.code === "ECONNREFUSED";
}

function describe(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? String(error);
}
