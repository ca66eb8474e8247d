/**
 * `requires("refunds:approve", { store, amount })` for Express routes: the handler runs only
 * when the service allows it; the Flask decorator's twin (authz_client/flask.py).
 *
 *     app.locals.authzClient = new AuthzClient({ baseUrl, token, tenant: "acme" });
 *     app.locals.authzSubject = (req) => req.session.staffLogin;   // who is asking
 *
 *     app.post("/stores/:store/refunds/:id/approve", express.json(),
 *       requires("refunds:approve", {
 *         store: (req) => req.params.store,
 *         amount: (req) => req.body.amount,
 *         approval: (req) => req.body.approval,
 *         context: (req) => ({ second_factor: req.session.mfa === true }),
 *       }),
 *       (req, res) => { ... });
 *
 * A denial is a 403 whose JSON says why and what would allow it - {"error": "forbidden",
 * "reason": "limit_exceeded", "requires": "approval"} - so the page can ask for a second
 * factor or offer "ask for approval"; pass `onDeny` to answer otherwise. Anything that keeps
 * the service from deciding (no answer within the client's timeout, an HTTP error, a
 * throwing option) is a 403 too, with reason null: the route never runs on an error. The
 * decision is on `res.locals.authzDecision` for the handler.
 */

import type { NextFunction, Request, RequestHandler, Response } from "express";

import type { Amount, AuthzClient, CheckContext, Decision } from "./client.js";

type FromRequest<T> = T | ((req: Request) => T | Promise<T>);

export interface RequiresOptions {
  /** The store the action is in: a fixed id or read from the request. */
  store: FromRequest<string>;
  /** Who is asking; by default app.locals.authzSubject(req). */
  subject?: FromRequest<string>;
  context?: FromRequest<CheckContext | undefined>;
  /** What the action moves (R22), when it moves money. */
  amount?: FromRequest<Amount | undefined>;
  /** An approved request this action uses (R24). */
  approval?: FromRequest<string | undefined>;
  /** Which client; by default app.locals.authzClient. */
  client?: AuthzClient;
  /** How to answer a denial the service decided; by default `denied`. */
  onDeny?: (decision: Decision, req: Request, res: Response, next: NextFunction) => void;
  /** Told why a request was refused without a decision (log it); never lets it through. */
  onError?: (error: unknown, req: Request) => void;
}

/** The default answer to a denial: 403 with the reason and what would allow it. */
export function denied(decision: Decision, _req: Request, res: Response): void {
  res.status(403).json({ error: "forbidden", reason: decision.reason, requires: decision.requires });
}

export function requires(permission: string, options: RequiresOptions): RequestHandler {
  const at = permission.lastIndexOf(":");
  if (at <= 0 || at === permission.length - 1) {
    throw new TypeError(`permission must be "area:action", not ${JSON.stringify(permission)}`);
  }
  const onDeny = options.onDeny ?? denied;
  return async function guarded(req: Request, res: Response, next: NextFunction) {
    let decision: Decision;
    try {
      const client = options.client ?? (req.app.locals["authzClient"] as AuthzClient | undefined);
      const subject = options.subject ?? (req.app.locals["authzSubject"] as FromRequest<string> | undefined);
      if (client === undefined || subject === undefined) {
        throw new TypeError("set app.locals.authzClient and app.locals.authzSubject, or pass client and subject");
      }
      const who = await read(subject, req);
      const store = await read(options.store, req);
      if (typeof who !== "string" || typeof store !== "string") {
        throw new TypeError("subject and store must be strings");
      }
      decision = await client.check({
        subject: who, store, permission,
        context: await read(options.context, req),
        amount: await read(options.amount, req),
        approval: await read(options.approval, req),
      });
    } catch (error) {
      options.onError?.(error, req);
      res.status(403).json({ error: "forbidden", reason: null, requires: null });
      return;
    }
    res.locals["authzDecision"] = decision;
    if (!decision.allowed) {
      try {
        onDeny(decision, req, res, next);
      } catch (error) {
        next(error);  // Express's error handler answers; the route still does not run
      }
      return;
    }
    next();
  };
}

async function read<T>(value: FromRequest<T> | undefined, req: Request): Promise<T | undefined> {
  return typeof value === "function" ? await (value as (req: Request) => T | Promise<T>)(req) : value;
}
