"""Approvals (R24): the owner's modes, requests filed by storefronts, decisions, the queue,
and the one use of an approved request by /check. Every step that changes something is a
write of the tenant (its ledger entry names the caller as actor); the domain rules are in
domain/approvals.py.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from ..domain import approvals as AP
from ..domain import clock, keys
from ..domain import reasons as W
from ..domain.decider import CheckRequest, answer_on
from ..domain.errors import Forbidden, InvalidInput, NotFound
from ..domain.index import TenantIndex
from ..domain.tenant_policy import TenantPolicy, expiry_text
from . import rights
from .authz import Authz
from .rights import operation

_STATE_REASONS = {AP.PENDING: W.APPROVAL_PENDING, AP.REJECTED: W.APPROVAL_REJECTED,
                  AP.USED: W.APPROVAL_USED, AP.EXPIRED: W.APPROVAL_EXPIRED}


def _now() -> datetime:
    return clock.utcnow()


def _own_permission(key: keys.Caller, permission: object) -> None:
    """An app key files and decides approvals of its own app's permissions only (R21)."""
    if key.scope == keys.APP and not (isinstance(permission, str)
                                      and permission.startswith(f"{key.app}.")):
        raise Forbidden("an app key acts only on its own app's permissions",
                        {"permission": [f"must start with {key.app}."]})


# -- modes (the owner's) ---------------------------------------------------------------------
@operation(rights.READ)
def modes(service: Authz, caller: keys.Caller, tenant: str) -> dict[str, str]:
    return AP.modes(service.read(caller, tenant))


@operation(rights.APPROVAL_MODE)
def set_mode(service: Authz, caller: keys.Caller, tenant: str, permission: str, mode: str,
             reason: str | None = None) -> int:
    """When `permission` needs a second person (never, over_limit, always)."""
    revision, _ = service.write(caller, tenant, reason or f"approvals of {permission}: {mode}",
                                lambda p: AP.set_mode(p, permission, mode),
                                use_case=rights.APPROVAL_MODE)
    return revision


# -- requests --------------------------------------------------------------------------------
@operation(rights.APPROVAL_FILE)
def file(service: Authz, caller: keys.Caller, tenant: str, body: dict) -> tuple[int, dict]:
    """File a request for a sub-account's action (the storefront's, on its behalf)."""
    _own_permission(caller, body.get("permission"))
    approval_id = secrets.token_hex(8)
    minutes = body.get("expires_in_minutes")
    ttl = AP.DEFAULT_TTL if minutes is None else timedelta(minutes=minutes)
    now = _now()
    revision, approval = service.commit(
        caller, tenant, f"approval {approval_id} requested for {body['subject']}",
        lambda p: AP.file(p, approval_id, body["subject"], body["store"], body["permission"],
                          body.get("amount"), body.get("product"), body.get("note", ""),
                          caller.describe(), now, ttl, service.index_of(p)),
        use_case=rights.APPROVAL_FILE)
    return revision, AP.document(approval, expiry_text(now))


@operation(rights.APPROVAL_DECIDE)
def decide(service: Authz, caller: keys.Caller, tenant: str, approval_id: str,
           approver: str | None, approve: bool, note: str = "") -> tuple[int, dict]:
    """Approve or reject: the owner (owner key, approver left out), or a sub-account
    holding approvals:decide in the request's store, whose decision a storefront records
    on its behalf (a check or app key must name the approver)."""
    if approver is None and caller.scope not in (keys.OWNER, keys.ADMIN):
        raise InvalidInput("a storefront records an approver's decision: name the approver",
                           {"approver": ["required with this key"]})
    found = service.store.approval(tenant, approval_id)
    if found is None:
        raise NotFound(f"no approval request {approval_id!r}", {"approval": ["not found"]})
    _own_permission(caller, found.permission)
    now = _now()
    verdict = "approved" if approve else "rejected"
    revision, approval = service.commit(
        caller, tenant, f"approval {approval_id} {verdict} by {approver or AP.OWNER}",
        lambda p: AP.decide(p, approval_id, approver, approve, note, now,
                            service.index_of(p)), use_case=rights.APPROVAL_DECIDE)
    return revision, AP.document(approval, expiry_text(now))


@operation(rights.APPROVAL_QUEUE)
def find(service: Authz, caller: keys.Caller, tenant: str, query: dict) -> tuple[int, list]:
    """One page of the tenant's requests, newest first, filtered. With `approver`: the
    pending requests that sub-account may decide now (in a store where it holds
    approvals:decide, and not its own): its queue. A check or app key sees only queues."""
    service.require_tenant(tenant)
    approver = query.get("approver")
    if approver is None and caller.scope in (keys.CHECK, keys.APP):
        raise InvalidInput("this key lists an approver's queue: name the approver",
                           {"approver": ["required with this key"]})
    now = expiry_text(_now())
    page, per_page = query["page"], query["per_page"]
    filters = {k: query.get(k) for k in ("subject", "store", "permission")}
    if approver is None:
        total, found = service.store.approvals(tenant, now, state=query.get("state"),
                                               **filters, limit=per_page,
                                               offset=(page - 1) * per_page)
        return total, [AP.document(a, now) for a in found]
    _, pending = service.store.approvals(tenant, now, state=AP.PENDING, **filters,
                                         limit=10_000)
    decider = service.held(tenant)
    mine = [a for a in pending if a.subject != approver
            and (caller.app is None or a.permission.startswith(f"{caller.app}."))
            and decider.answer_many([CheckRequest(tenant, approver, a.store, *AP.DECIDE)])
            == [W.GRANTED]]
    return len(mine), [AP.document(a, now)
                       for a in mine[(page - 1) * per_page:page * per_page]]


@operation(rights.APPROVAL_QUEUE)
def get(service: Authz, caller: keys.Caller, tenant: str, approval_id: str) -> dict:
    service.require_tenant(tenant)
    found = service.store.approval(tenant, approval_id)
    if found is None:
        raise NotFound(f"no approval request {approval_id!r}", {"approval": ["not found"]})
    _own_permission(caller, found.permission)
    return AP.document(found, expiry_text(_now()))


# -- the use, by /check ----------------------------------------------------------------------
@operation(rights.APPROVAL_USE)
def use(service: Authz, caller: keys.Caller, request: CheckRequest) -> tuple[str, int]:
    """/check with context.approval: allowed once, for exactly the approved action, with
    the revision the answer stands at. The use is a write (the grant goes): decided on the
    write's own copy of the policy, so two uses racing on two workers serialise on the
    tenant's head and the second is denied approval_used. Every answer names the revision
    it was decided at, as the decision log records it: for an allowed use, the one before
    the use's own ledger entry (the approval spent)."""
    tenant = request.tenant
    replica = service.replica
    if not replica.hold(tenant):
        return W.UNKNOWN_TENANT, -1
    revision = replica.revision(tenant)
    found = service.store.approval(tenant, request.approval)
    now = _now()
    code = _precheck(found, request, expiry_text(now))
    if code is None:
        def spend(policy: TenantPolicy) -> str:
            held = policy.directory.approvals.get(request.approval)
            if held is None or held.status != AP.APPROVED:
                return W.APPROVAL_USED  # (approved when read above: spent since)
            index = service.index_of(policy) or TenantIndex(tenant, policy.rules())
            answer = answer_on(index, request)
            if answer is W.GRANTED and not AP.use(policy, request.approval,
                                                  caller.describe(), now):
                return W.APPROVAL_USED
            return answer

        written, code = service.commit(caller, tenant,
                                       f"approval {request.approval} used", spend,
                                       limited=False, use_case=rights.APPROVAL_USE)
        # decided on the rules before the grant went: the use itself is the next revision
        revision = written - 1 if code is W.GRANTED else replica.revision(tenant)
    service.decision_log.record(request, code, revision)
    return code, revision


def _precheck(found, request: CheckRequest, now: str) -> str | None:
    """Why the approval cannot allow this check before the policy is asked, or None."""
    if found is None:
        return W.APPROVAL_NOT_VALID
    state = AP.state(found, now)
    if state != AP.APPROVED:
        return _STATE_REASONS[state]
    asked = (request.subject, request.store, f"{request.area}:{request.action}",
             request.product)
    if asked != (found.subject, found.store, found.permission, found.product) \
            or (found.amount and not (request.amount and request.amount <= found.amount)):
        return W.APPROVAL_MISMATCH
    return None
