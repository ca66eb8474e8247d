/**
 * What can go wrong when asking the service, as exceptions a caller can tell apart.
 *
 * None of them is ever an answer: `check` either returns the service's decision or throws
 * one of these, so code that forgets to catch cannot reach the allowed branch. The Express
 * middleware turns every one of them into a 403.
 */

import type { components } from "./openapi.js";

export type ErrorBody = components["schemas"]["Error"];

/** The base of every error this package throws. */
export class AuthzError extends Error {
  override name = "AuthzError";
}

/** The argument cannot be sent as it is (an amount that is not a whole number of cents...). */
export class AuthzInputError extends AuthzError {
  override name = "AuthzInputError";
}

/** No answer: the connection failed after the retries, or the service is unreachable. */
export class AuthzUnavailableError extends AuthzError {
  override name = "AuthzUnavailableError";
}

/** No answer within the client's timeout (the request may or may not have been seen). */
export class AuthzTimeoutError extends AuthzUnavailableError {
  override name = "AuthzTimeoutError";
}

/** The service answered with an HTTP error; `body` is its JSON error when it sent one. */
export class AuthzHttpError extends AuthzError {
  override name = "AuthzHttpError";
  constructor(
    readonly status: number,
    readonly body: ErrorBody | undefined,
  ) {
    super(`HTTP ${status}: ${body?.message ?? "no JSON error body"}`);
  }

  /** The request fields the service named as wrong, e.g. ["amount"]: its `errors` name
   * them by field, or by where they were read ({"json": {"amount": [...]}}). */
  get fields(): string[] {
    const errors = (this.body?.errors ?? {}) as Record<string, unknown>;
    return Object.entries(errors).flatMap(([name, said]) =>
      said !== null && typeof said === "object" && !Array.isArray(said) ? Object.keys(said) : [name],
    );
  }
}

/** 400 or 422: the request was refused as bad input and nothing changed. */
export class AuthzBadRequestError extends AuthzHttpError {
  override name = "AuthzBadRequestError";
}

/** 401: no key, or a key the service does not know. */
export class AuthzAuthenticationError extends AuthzHttpError {
  override name = "AuthzAuthenticationError";
}

/** 403: the key may not do this (another tenant's path, a check key on a write...). */
export class AuthzForbiddenError extends AuthzHttpError {
  override name = "AuthzForbiddenError";
}

/** 404: no such tenant, approval or route. */
export class AuthzNotFoundError extends AuthzHttpError {
  override name = "AuthzNotFoundError";
}

/** 409: refused by a rule (an approval decided twice, an approval its subject decides...). */
export class AuthzConflictError extends AuthzHttpError {
  override name = "AuthzConflictError";
}

/** 429: over the write rate limit; `retryAfter` seconds, when the service said. */
export class AuthzRateLimitedError extends AuthzHttpError {
  override name = "AuthzRateLimitedError";
  constructor(
    status: number,
    body: ErrorBody | undefined,
    readonly retryAfter: number | undefined,
  ) {
    super(status, body);
  }
}

/** 5xx: the service failed (a 503 when its database is down). */
export class AuthzServerError extends AuthzHttpError {
  override name = "AuthzServerError";
}

/** A 2xx whose body is not the documented answer (a proxy's page, a truncated body...). */
export class AuthzAnswerError extends AuthzError {
  override name = "AuthzAnswerError";
}

export function httpError(
  status: number,
  body: ErrorBody | undefined,
  retryAfter: string | null,
): AuthzHttpError {
  switch (status) {
    case 400:
    case 422:
      return new AuthzBadRequestError(status, body);
    case 401:
      return new AuthzAuthenticationError(status, body);
    case 403:
      return new AuthzForbiddenError(status, body);
    case 404:
      return new AuthzNotFoundError(status, body);
    case 409:
      return new AuthzConflictError(status, body);
    case 429: {
      const seconds = retryAfter === null ? Number.NaN : Number(retryAfter);
      return new AuthzRateLimitedError(status, body, Number.isFinite(seconds) ? seconds : undefined);
    }
    default:
      return status >= 500 ? new AuthzServerError(status, body) : new AuthzHttpError(status, body);
  }
}
