"""Approvals, maker-checker (R24), as plain edits of a TenantPolicy.

Per permission the owner sets when an action needs a second person: never, over the
requester's limit (`over_limit`: only permissions that move money), or always. Each mode
is a rule, so the auditor's replay sees it: `p, approval, <t>, area, action, deny` makes
the model deny the permission to everyone but the owner unless the check uses an approved
request; `p, approval-over-limit, ...` is a marker the matcher never matches (a check over
the limit is denied anyway) that says an approval may be asked for.

A storefront files a request for a sub-account exactly when a check of that action
answers `requires: approval`. The owner, or a sub-account holding `approvals:decide` in
the request's store at that moment (never the requester), approves or rejects it. An
approval is a one-shot, time-boxed grant underneath - `p, approval:<t>:<id>, <store>,
area, action[<=amount], allow` with `g2, approval:<t>:<id>, <user>` naming whose it is -
that applies only to a check naming the approval; using it removes both rules, and at its
expiry the sweep does. Every step is a write, so the ledger has it with its actor.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from . import amounts
from . import policy_admin as A
from . import reasons as W
from . import rules as R
from .accounts import Approval
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .index import TenantIndex
from .rules import Kind, Rule
from .tenant_policy import TenantPolicy, expiry_text

NEVER, OVER_LIMIT, ALWAYS = "never", "over_limit", "always"
MODES = (NEVER, OVER_LIMIT, ALWAYS)
PENDING, APPROVED, REJECTED, USED, EXPIRED = "pending", "approved", "rejected", "used", \
    "expired"
STATES = (PENDING, APPROVED, REJECTED, USED, EXPIRED)
DECIDE = ("approvals", "decide")  # the catalogue permission of an approver
DEFAULT_TTL = timedelta(hours=24)
MAX_TTL = timedelta(days=7)
MAX_NOTE = 500
OWNER = "owner"  # decided_by of the main account


def state(approval: Approval, now: str) -> str:
    """What the request is now: its status, or expired once its time has passed while
    pending or approved."""
    if approval.status in (PENDING, APPROVED) and approval.expires_at <= now:
        return EXPIRED
    return approval.status


def document(approval: Approval, now: str) -> dict:
    """The request as the API shows it (amounts as people write them)."""
    out = {name: getattr(approval, name) for name in (
        "id", "subject", "store", "permission", "product", "note", "requested_by",
        "requested_at", "expires_at", "decided_by", "decided_at", "decision_note",
        "used_at", "used_by")}
    out["amount"] = amounts.shown(approval.amount) if approval.amount else None
    out["state"] = state(approval, now)
    return out


# -- modes -----------------------------------------------------------------------------------
def _mode_rules(tenant: str, area: str, action: str) -> dict[str, Rule]:
    return {ALWAYS: Rule("p", (R.APPROVAL_ALWAYS, tenant, area, action, "deny")),
            OVER_LIMIT: Rule("p", (R.APPROVAL_OVER_LIMIT, tenant, area, action, "deny"))}


def mode(policy: TenantPolicy, permission: str) -> str:
    perm = policy.catalogue.permission(permission)
    for name, rule in _mode_rules(policy.tenant, perm.area, perm.action).items():
        if rule in policy:
            return name
    return NEVER


def modes(policy: TenantPolicy) -> dict[str, str]:
    """permission name -> mode, for the permissions whose mode is not `never`."""
    return {f"{p.rule.values[2]}:{p.rule.values[3]}":
            ALWAYS if p.kind is Kind.APPROVAL_ALWAYS else OVER_LIMIT
            for p in policy.of_kind(Kind.APPROVAL_ALWAYS, Kind.APPROVAL_OVER_LIMIT)}


def set_mode(policy: TenantPolicy, permission: str, wanted: str) -> None:
    """When `permission` needs a second person's approval in this tenant."""
    perm = policy.catalogue.grantable(permission)
    if wanted not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}", {"mode": list(MODES)})
    if wanted == OVER_LIMIT and not perm.amount:
        raise InvalidInput(f"{permission} moves no money, so it has no limit to be over",
                           {"mode": ["over_limit is for permissions that move money"]})
    for name, rule in _mode_rules(policy.tenant, perm.area, perm.action).items():
        if name == wanted:
            policy.add(rule)
        else:
            policy.remove(rule)


# -- requests --------------------------------------------------------------------------------
def file(policy: TenantPolicy, approval_id: str, subject: str, store: str, permission: str,
         amount: object, product: object, note: object, requested_by: str, now: datetime,
         ttl: timedelta = DEFAULT_TTL, index: TenantIndex | None = None) -> Approval:
    """A request for `subject` to take one action: allowed only when a check of exactly
    that action (a second factor assumed passed) answers `requires: approval`. `index`:
    the policy's rules filed for decisions, when the caller holds them (else built)."""
    A.require_account(policy, subject)
    A.require_stores(policy, [store], "store")
    perm = policy.catalogue.grantable(permission)
    fixed = amounts.parse(amount) if amount is not None else ""
    if product is not None:
        R.identifier(product, "product")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise InvalidInput(f"note is text of at most {MAX_NOTE} characters",
                           {"note": [f"at most {MAX_NOTE} characters"]})
    if not timedelta(minutes=1) <= ttl <= MAX_TTL:
        raise InvalidInput("expires_in_minutes is 1 minute to 7 days",
                           {"expires_in_minutes": ["1 to 10080"]})
    if index is None:
        index = TenantIndex(policy.tenant, policy.rules())
    code = index.answer(R.user(policy.tenant, subject), R.store(policy.tenant, store),
                        perm.area, perm.action, True, product or "", fixed)
    if W.requires(code, index.approvable(perm.area, perm.action)) != W.APPROVAL:
        raise Conflict(f"{subject} cannot ask for an approval of this action: a check of it "
                       f"answers {code}", {"permission": [code]})
    approval = Approval(approval_id, subject, store, permission, fixed, product or "", note,
                        PENDING, requested_by, expiry_text(now), expiry_text(now + ttl))
    policy.directory.approvals[approval_id] = approval
    return approval


def _open(policy: TenantPolicy, approval_id: str, now: datetime) -> Approval:
    approval = policy.directory.approvals.get(approval_id)
    if approval is None:
        raise NotFound(f"no open approval request {approval_id!r}",
                       {"approval": ["not found, or already decided or used"]})
    if state(approval, expiry_text(now)) == EXPIRED:
        raise Conflict(f"approval request {approval_id} has expired",
                       {"approval": [EXPIRED]})
    return approval


def decide(policy: TenantPolicy, approval_id: str, approver: str | None, approve: bool,
           note: object, now: datetime, index: TenantIndex | None = None) -> Approval:
    """The owner's decision (`approver` None) or a sub-account's, who must hold
    approvals:decide in the request's store now and not be its requester. `index`: as
    for file."""
    approval = _open(policy, approval_id, now)
    if approval.status != PENDING:
        raise Conflict(f"approval request {approval_id} is already {approval.status}",
                       {"approval": [approval.status]})
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise InvalidInput(f"note is text of at most {MAX_NOTE} characters",
                           {"note": [f"at most {MAX_NOTE} characters"]})
    if approver is not None:
        A.require_account(policy, approver, "approver")
        if approver == approval.subject:
            raise Forbidden("a requester cannot decide their own request (R24)",
                            {"approver": ["is the requester"]})
        if index is None:
            index = TenantIndex(policy.tenant, policy.rules())
        if not index.decide(R.user(policy.tenant, approver),
                            R.store(policy.tenant, approval.store), *DECIDE, False, ""):
            raise Forbidden(f"{approver} may not decide approvals in store {approval.store}",
                            {"approver": [f"lacks approvals:decide in {approval.store}"]})
    approval.status = APPROVED if approve else REJECTED
    approval.decided_by = approver or OWNER
    approval.decided_at = expiry_text(now)
    approval.decision_note = note
    if approve:
        until = datetime.strptime(approval.expires_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=UTC)
        for rule in grant_rules(policy.tenant, approval):
            policy.add(rule)
            policy.set_expiry(rule, until)
    return approval


def grant_rules(tenant: str, approval: Approval) -> tuple[Rule, Rule]:
    """The one-shot grant of an approved request, and the rule naming whose it is."""
    value = R.approval(tenant, approval.id)
    area, _, action = approval.permission.partition(":")
    store = R.store(tenant, approval.store)
    where = R.product(store, approval.product) if approval.product else store
    act = amounts.limited(action, approval.amount) if approval.amount else action
    return (Rule("p", (value, where, area, act, "allow")),
            Rule("g2", (value, R.user(tenant, approval.subject))))


def use(policy: TenantPolicy, approval_id: str, used_by: str, now: datetime) -> bool:
    """Spend an approved request: its grant goes. False when it was spent already (or
    expired, or its grant went some other way): the check that wanted it is denied."""
    approval = policy.directory.approvals.get(approval_id)
    if approval is None or state(approval, expiry_text(now)) != APPROVED:
        return False
    rules = grant_rules(policy.tenant, approval)
    if not all(rule in policy for rule in rules):
        return False
    for rule in rules:
        policy.remove(rule)
    approval.status = USED
    approval.used_at = expiry_text(now)
    approval.used_by = used_by
    return True
