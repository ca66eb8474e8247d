/** The store authorization service's client; the Express middleware is "@store-authz/client/express". */

export {
  APPROVAL,
  AuthzClient,
  SECOND_FACTOR,
  amountText,
  type Allowed,
  type Amount,
  type ApprovalDocument,
  type CallOptions,
  type CheckContext,
  type CheckOptions,
  type CheckQuestion,
  type ClientOptions,
  type Decision,
  type Reason,
  type Requires,
} from "./client.js";
export * from "./errors.js";
export type { components, paths } from "./openapi.js";
