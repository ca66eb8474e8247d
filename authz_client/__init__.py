"""Python client for the store authorization service, and a Flask decorator.

Fails closed: any error - connection refused, timeout, a 4xx or 5xx, a body that is not
the documented answer - is a denial, with the error on the Decision for the caller to log.

    client = AuthzClient("http://authz:8080", token="k-....<secret>")
    if client.check("alice", "amazon-us", "orders", "view"):
        ...

Only `requests` is needed; the decorator (authz_client.flask) needs Flask.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests

__all__ = ["AuthzClient", "Allowed", "Approval", "Decision"]
SECOND_FACTOR, APPROVAL = "second_factor", "approval"
# Answers that depend on the policy alone, so a cached one stays true until a newer
# revision is seen (not the app or tenant state, not an approval's, never a use).
CACHEABLE = frozenset(("granted", "no_grant", "not_assigned", "explicit_deny", "disabled",
                       "step_up_required", "not_product_operator", "limit_exceeded",
                       "amount_required", "approval_required"))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    revision: int | None = None
    error: str | None = None  # why this is a denial that the service did not decide
    explanation: dict | None = None
    reason: str | None = None  # the service's code (README: Why a check is answered...)
    requires: str | None = None  # SECOND_FACTOR or APPROVAL: what would allow it, if any

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True)
class Approval:
    """An approval request as the service answered it (R24), or the error that kept it
    from being filed or decided (`id` None)."""

    id: str | None
    state: str | None = None
    document: dict | None = None
    error: str | None = None

    def __bool__(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Allowed:
    """What a subject is allowed (permission names, or store ids): empty on any error,
    with the error, so a menu drawn from it shows nothing rather than too much."""

    items: frozenset[str]
    revision: int | None = None
    error: str | None = None
    # permissions allowed only up to an amount, with the highest (R22): "refunds:approve"
    # -> "200.00"; not in `items`, since a check of them needs the amount
    limits: dict[str, str] | None = None

    def __contains__(self, item: str) -> bool:
        return item in self.items


class AuthzClient:
    """One client per process; it reuses connections (a requests.Session per thread)."""

    def __init__(self, base_url: str, token: str, *, tenant: str | None = None,
                 timeout: float = 0.5, retries: int = 2, cache_seconds: float = 0.0,
                 cache_size: int = 10_000):
        """`tenant`: the key's tenant. Given, checks go to /v1/tenants/{tenant}/check,
        which a load balancer routes on (tenant-affine instances); without it, to /check.
        An app's key (R21) serves every tenant that installed the app: it names the tenant
        on each call instead (`tenant=` of check, check_many, allowed_*)."""
        self.base_url = base_url.rstrip("/")
        self.tenant = tenant
        self._checks = f"/v1/tenants/{tenant}/check" if tenant else "/check"
        self.timeout = timeout
        self.retries = retries
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self._headers = {"Authorization": f"Bearer {token}"}
        self._local = threading.local()
        self._cache: dict[tuple, tuple[bool, int, float]] = {}
        # The newest revision any answer has shown: revisions are per tenant, and a key's
        # checks are all about its own tenant.
        self.newest_revision = -1

    # -- public ------------------------------------------------------------------------------
    def check(self, subject: str, store: str, object: str, action: str,  # noqa: A002
              context: dict | None = None, at_least_revision: int | None = None,
              tenant: str | None = None, *, amount: str | int | Decimal | None = None,
              approval: str | None = None) -> Decision:
        """`amount`: what the action moves (R22), a decimal string, int or Decimal (a
        float is refused: it cannot carry every cent); `approval`: the id of an approved
        request this action uses (R24: allowed once)."""
        try:
            context = _context(context, amount, approval)
        except ValueError as exc:
            return Decision(False, error=str(exc))
        body = _check_body(subject, store, object, action, context)
        key = tuple(sorted((k, repr(v)) for k, v in body.items())) + (("tenant", tenant),)
        cached = None if approval else self._cached(key, at_least_revision)
        if cached is not None:
            return cached
        if at_least_revision is not None:
            body["at_least_revision"] = at_least_revision
        answer = self._post(self._check_path(tenant), body)
        if isinstance(answer, Decision):
            return answer
        allowed, revision = answer.get("allowed"), answer.get("revision")
        if allowed is False and isinstance(answer.get("error"), str):
            # the service could not decide (say, tenant_unavailable): a deny, saying why
            return Decision(False, error=f"{answer.get('reason') or 'error'}: "
                                         f"{answer['error']}", reason=_why(answer)[0])
        if not isinstance(allowed, bool) or not isinstance(revision, int):
            return Decision(False, error=f"unexpected answer: {answer!r:.200}")
        reason, requires = _why(answer)
        if reason in CACHEABLE and not approval:
            self._remember(key, allowed, revision, reason, requires)
        return Decision(allowed, revision, reason=reason, requires=requires)

    def check_many(self, checks: list[dict], at_least_revision: int | None = None,
                   tenant: str | None = None) -> list[Decision]:
        """Each dict: subject, store, object, action and optionally context. Answers in
        order, all at one revision; on any error every one is denied."""
        body: dict[str, Any] = {"checks": [
            _check_body(c["subject"], c["store"], c["object"], c["action"], c.get("context"))
            for c in checks]}
        if at_least_revision is not None:
            body["at_least_revision"] = at_least_revision
        answer = self._post(self._check_path(tenant) + "/batch", body)
        if isinstance(answer, Decision):
            return [answer] * len(checks)
        results, revision = answer.get("results"), answer.get("revision")
        if not isinstance(results, list) or len(results) != len(checks) or not all(
                isinstance(r, dict) and isinstance(r.get("allowed"), bool) for r in results):
            denied = Decision(False, error=f"unexpected answer: {answer!r:.200}")
            return [denied] * len(checks)
        return [Decision(r["allowed"], revision, reason=_why(r)[0], requires=_why(r)[1])
                for r in results]

    # -- approvals (R24) ------------------------------------------------------------------
    def request_approval(self, subject: str, store: str, permission: str, *,
                         amount: str | int | Decimal | None = None, product: str | None = None,
                         note: str = "", tenant: str | None = None) -> Approval:
        """File a request for `subject`'s action (possible when a check of it answered
        `requires == APPROVAL`); its id, once approved, goes in check(approval=...)."""
        body: dict[str, Any] = {"subject": subject, "store": store, "permission": permission,
                                "note": note}
        try:
            if amount is not None:
                body["amount"] = _amount(amount)
        except ValueError as exc:
            return Approval(None, error=str(exc))
        if product is not None:
            body["product"] = product
        return _approval(self._request("POST", self._tenant_path(tenant) + "/approvals",
                                       json=body, ok=(201,)))

    def decide_approval(self, approval_id: str, approver: str, approve: bool,
                        note: str = "", tenant: str | None = None) -> Approval:
        """Record `approver`'s decision (a sub-account holding approvals:decide in the
        request's store; never the requester: the service checks both)."""
        return _approval(self._post(
            f"{self._tenant_path(tenant)}/approvals/{approval_id}/decision",
            {"approver": approver, "approve": approve, "note": note}))

    def approval_queue(self, approver: str, tenant: str | None = None) -> list[Approval]:
        """The pending requests `approver` may decide now (first 200); [] on any error."""
        answer = self._get(self._tenant_path(tenant) + "/approvals",
                           {"approver": approver, "per_page": 200})
        items = answer.get("items") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            return []
        return [_approval(item) for item in items]

    def allowed_permissions(self, subject: str, store: str, second_factor: bool = False,
                            tenant: str | None = None) -> Allowed:
        """Every permission `subject` is allowed in `store` (for menus and buttons): one
        request instead of a batch of the whole catalogue."""
        answer = self._get(self._tenant_path(tenant) + "/allowed/permissions",
                           {"subject": subject, "store": store,
                            "second_factor": str(second_factor).lower()})
        if isinstance(answer, Decision):
            return Allowed(frozenset(), error=answer.error)
        names = answer.get("permissions")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return Allowed(frozenset(), error=f"unexpected answer: {answer!r:.200}")
        limits = answer.get("limits")
        return Allowed(frozenset(names), answer.get("revision"),
                       limits=dict(limits) if isinstance(limits, dict) else {})

    def allowed_stores(self, subject: str, permission: str, second_factor: bool = False,
                       tenant: str | None = None) -> Allowed:
        """Every store where `subject` is allowed `permission`, all pages read (complete)."""
        stores: list[str] = []
        page, revision = 1, None
        while True:
            answer = self._get(self._tenant_path(tenant) + "/allowed/stores", {
                "subject": subject, "permission": permission,
                "second_factor": str(second_factor).lower(), "page": page,
                "per_page": 1000})
            if isinstance(answer, Decision):
                return Allowed(frozenset(), error=answer.error)
            items, total = answer.get("stores"), answer.get("total")
            if not isinstance(items, list) or not isinstance(total, int) or (
                    revision is not None and answer.get("revision") != revision):
                # a page at another revision would mix two policies: ask again whole
                return Allowed(frozenset(), error=f"unexpected answer: {answer!r:.200}")
            revision = answer.get("revision")
            stores += items
            if len(stores) >= total or not items:
                return Allowed(frozenset(stores), revision)
            page += 1

    def _check_path(self, tenant: str | None) -> str:
        return f"/v1/tenants/{tenant}/check" if tenant else self._checks

    def _tenant_path(self, tenant: str | None) -> str:
        tenant = tenant or self.tenant
        if not tenant:
            raise ValueError("name the tenant (here or as AuthzClient(tenant=...))")
        return f"/v1/tenants/{tenant}"

    def explain(self, subject: str, store: str, object: str, action: str,  # noqa: A002
                context: dict | None = None) -> Decision:
        """The decision and the path that led to it (POST /explain)."""
        answer = self._post("/explain", _check_body(subject, store, object, action, context))
        if isinstance(answer, Decision):
            return answer
        allowed = answer.get("allowed")
        if not isinstance(allowed, bool):
            return Decision(False, error=f"unexpected answer: {answer!r:.200}")
        reason, requires = _why(answer)
        return Decision(allowed, answer.get("revision"), explanation=answer, reason=reason,
                        requires=requires)

    # -- transport ---------------------------------------------------------------------------
    @property
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers.update(self._headers)
        return session

    def _post(self, path: str, body: dict) -> dict | Decision:
        return self._request("POST", path, json=body)

    def _get(self, path: str, params: dict) -> dict | Decision:
        return self._request("GET", path, params=params)

    def _request(self, method: str, path: str, ok: tuple[int, ...] = (200,),
                 **kwargs) -> dict | Decision:
        """The JSON answer of a 200 (or `ok`), or a denial carrying the error. Retries only
        when the connection could not be made: then the service never saw the request."""
        for attempt in range(self.retries + 1):
            try:
                response = self._session.request(method, self.base_url + path,
                                                 timeout=self.timeout, **kwargs)
                break
            except requests.ConnectionError as exc:  # refused, reset, connect timeout
                if attempt == self.retries:
                    return Decision(False, error=f"connection failed: {exc}")
                time.sleep(0.05 * (attempt + 1))
            except Exception as exc:  # noqa: BLE001 - anything at all is a denial
                return Decision(False, error=f"request failed: {exc}")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code not in ok or not isinstance(answer, dict):
            message = answer.get("message") if isinstance(answer, dict) else None
            return Decision(False, error=f"HTTP {response.status_code}: "
                                         f"{message or response.text[:200]}")
        revision = answer.get("revision")
        if isinstance(revision, int) and revision > self.newest_revision:
            self.newest_revision = revision
        return answer

    # -- cache -------------------------------------------------------------------------------
    def _cached(self, key: tuple, at_least_revision: int | None) -> Decision | None:
        if not self.cache_seconds:
            return None
        entry = self._cache.get(key)
        if entry is None:
            return None
        allowed, revision, reason, requires, stored_at = entry
        if (time.monotonic() - stored_at > self.cache_seconds
                or revision < self.newest_revision
                or (at_least_revision is not None and revision < at_least_revision)):
            return None  # too old, or a newer revision has been seen since
        return Decision(allowed, revision, reason=reason, requires=requires)

    def _remember(self, key: tuple, allowed: bool, revision: int, reason: str,
                  requires: str | None) -> None:
        if not self.cache_seconds:
            return
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        self._cache[key] = (allowed, revision, reason, requires, time.monotonic())


def _amount(value) -> str:
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("amount must be a decimal string, int or Decimal (not a float: it "
                         "cannot carry every cent)")
    if isinstance(value, Decimal | int):
        return str(value)
    if isinstance(value, str):
        return value
    raise ValueError(f"amount must be a decimal string, not {type(value).__name__}")


def _context(context: dict | None, amount, approval: str | None) -> dict | None:
    if amount is None and approval is None:
        return context
    context = dict(context or {})
    if amount is not None:
        context["amount"] = _amount(amount)
    if approval is not None:
        context["approval"] = approval
    return context


def _why(answer: dict) -> tuple[str | None, str | None]:
    reason, requires = answer.get("reason"), answer.get("requires")
    return (reason if isinstance(reason, str) else None,
            requires if requires in (SECOND_FACTOR, APPROVAL) else None)


def _approval(answer: dict | Decision) -> Approval:
    if isinstance(answer, Decision):
        return Approval(None, error=answer.error)
    if not isinstance(answer.get("id"), str):
        return Approval(None, error=f"unexpected answer: {answer!r:.200}")
    return Approval(answer["id"], answer.get("state"), answer)


def _check_body(subject, store, obj, action, context) -> dict:
    body: dict[str, Any] = {"subject": subject, "store": store, "object": obj,
                            "action": action}
    if context:
        body["context"] = context
    return body
