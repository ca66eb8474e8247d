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
from typing import Any

import requests

__all__ = ["AuthzClient", "Decision"]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    revision: int | None = None
    error: str | None = None  # why this is a denial that the service did not decide
    explanation: dict | None = None

    def __bool__(self) -> bool:
        return self.allowed


class AuthzClient:
    """One client per process; it reuses connections (a requests.Session per thread)."""

    def __init__(self, base_url: str, token: str, *, tenant: str | None = None,
                 timeout: float = 0.5, retries: int = 2, cache_seconds: float = 0.0,
                 cache_size: int = 10_000):
        """`tenant`: the key's tenant. Given, checks go to /v1/tenants/{tenant}/check,
        which a load balancer routes on (tenant-affine instances); without it, to /check."""
        self.base_url = base_url.rstrip("/")
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
              context: dict | None = None, at_least_revision: int | None = None) -> Decision:
        body = _check_body(subject, store, object, action, context)
        key = tuple(sorted((k, repr(v)) for k, v in body.items()))
        cached = self._cached(key, at_least_revision)
        if cached is not None:
            return cached
        if at_least_revision is not None:
            body["at_least_revision"] = at_least_revision
        answer = self._post(self._checks, body)
        if isinstance(answer, Decision):
            return answer
        allowed, revision = answer.get("allowed"), answer.get("revision")
        if allowed is False and isinstance(answer.get("error"), str):
            # the service could not decide (say, tenant_unavailable): a deny, saying why
            return Decision(False, error=f"{answer.get('reason') or 'error'}: "
                                         f"{answer['error']}")
        if not isinstance(allowed, bool) or not isinstance(revision, int):
            return Decision(False, error=f"unexpected answer: {answer!r:.200}")
        self._remember(key, allowed, revision)
        return Decision(allowed, revision)

    def check_many(self, checks: list[dict], at_least_revision: int | None = None
                   ) -> list[Decision]:
        """Each dict: subject, store, object, action and optionally context. Answers in
        order, all at one revision; on any error every one is denied."""
        body: dict[str, Any] = {"checks": [
            _check_body(c["subject"], c["store"], c["object"], c["action"], c.get("context"))
            for c in checks]}
        if at_least_revision is not None:
            body["at_least_revision"] = at_least_revision
        answer = self._post(self._checks + "/batch", body)
        if isinstance(answer, Decision):
            return [answer] * len(checks)
        results, revision = answer.get("results"), answer.get("revision")
        if not isinstance(results, list) or len(results) != len(checks) or not all(
                isinstance(r, dict) and isinstance(r.get("allowed"), bool) for r in results):
            denied = Decision(False, error=f"unexpected answer: {answer!r:.200}")
            return [denied] * len(checks)
        return [Decision(r["allowed"], revision) for r in results]

    def explain(self, subject: str, store: str, object: str, action: str,  # noqa: A002
                context: dict | None = None) -> Decision:
        """The decision and the path that led to it (POST /explain)."""
        answer = self._post("/explain", _check_body(subject, store, object, action, context))
        if isinstance(answer, Decision):
            return answer
        allowed = answer.get("allowed")
        if not isinstance(allowed, bool):
            return Decision(False, error=f"unexpected answer: {answer!r:.200}")
        return Decision(allowed, answer.get("revision"), explanation=answer)

    # -- transport ---------------------------------------------------------------------------
    @property
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers.update(self._headers)
        return session

    def _post(self, path: str, body: dict) -> dict | Decision:
        """The JSON answer of a 200, or a denial carrying the error. Retries only when the
        connection could not be made: then the service never saw the request."""
        for attempt in range(self.retries + 1):
            try:
                response = self._session.post(self.base_url + path, json=body,
                                              timeout=self.timeout)
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
        if response.status_code != 200 or not isinstance(answer, dict):
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
        allowed, revision, stored_at = entry
        if (time.monotonic() - stored_at > self.cache_seconds
                or revision < self.newest_revision
                or (at_least_revision is not None and revision < at_least_revision)):
            return None  # too old, or a newer revision has been seen since
        return Decision(allowed, revision)

    def _remember(self, key: tuple, allowed: bool, revision: int) -> None:
        if not self.cache_seconds:
            return
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        self._cache[key] = (allowed, revision, time.monotonic())


def _check_body(subject, store, obj, action, context) -> dict:
    body: dict[str, Any] = {"subject": subject, "store": store, "object": obj,
                            "action": action}
    if context:
        body["context"] = context
    return body
