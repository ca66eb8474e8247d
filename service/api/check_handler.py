"""The decision routes' one handler: /check, /check/batch and AuthZEN's Access Evaluation,
from a caller, the parsed JSON body and the tenant the path names, to the answer's text.

Both ways in call it. The fast path (api/fast_check.py, before Flask) calls it with
`database=False`: what needs more than this worker's memory - a key or tenant not held
yet (replica.NeedsDatabase), a revision not reached, an approval to use (a write) - is
Deferred, as is any error, and Flask's view (api/check.py, api/authzen.py) calls it again
with `database=True`, which does that part: it loads, waits for the revision, spends the
approval. Every answer is written and counted here, once.
"""

from __future__ import annotations

from typing import NamedTuple

from ..domain import reasons as W
from ..domain.decider import CheckRequest
from ..domain.errors import InvalidInput
from ..runtime import telemetry
from ..usecases import approvals
from ..usecases.authz import Authz
from . import authzen_input as Z
from . import check_answer, check_input


class Deferred(Exception):
    """Not for the fast path: the Flask view answers (with the database at hand)."""


class Answered(NamedTuple):
    text: str  # the JSON answer
    revision: int | None  # the tenant's revision it was decided at (None: several tenants)


def in_path(path_tenant: str | None, named: str | None) -> str | None:
    """The tenant a check names: on /v1/tenants/{t}/check... routes the path's, which a
    `tenant` in the body may repeat but not contradict."""
    if path_tenant is None:
        return named
    if named is not None and named != path_tenant:
        raise InvalidInput("the body names another tenant than the path",
                           {"json": {"tenant": ["must be the path's tenant"]}})
    return path_tenant


def _reach(service: Authz, tenant: str, wanted: int | None, database: bool) -> None:
    """Hold `tenant` at the revision the caller asked for, at least: waited for (or 409)
    with the database, Deferred without."""
    if wanted is None:
        return
    if database:
        service.replica.require(tenant, wanted, service.settings.consistency_wait)
    elif service.replica.revision(tenant) < wanted:
        raise Deferred


def decide(service: Authz, caller, request: CheckRequest, database: bool
           ) -> tuple[str, int, str | None]:
    """(the reason code, the revision, what would allow it) of one check, counted; one
    that uses an approval is spent by its use case (a write: Deferred without the
    database)."""
    if request.approval:
        if not database:
            raise Deferred
        code, revision = approvals.use(service, caller, request)
    else:
        [code] = service.answer((request,), database=database)
        revision = service.replica.revision(request.tenant)
    requires = service.decider.requires(request.tenant, request.area, request.action, code)
    granted = code is W.GRANTED
    telemetry.count_decisions(int(granted), int(not granted))
    return code, revision, requires


def request_of(service: Authz, caller, body: object, path_tenant: str | None, *,
               database: bool) -> CheckRequest:
    """The check a /check body asks (and /explain's), its tenant held at the revision the
    body asks for."""
    values, wanted = check_input.read_single(body)
    tenant = service.check_tenant(caller, in_path(path_tenant, values.get("tenant")))
    request = check_input.check_request(tenant, values)
    service.check_areas(caller, (request,))
    _reach(service, tenant, wanted, database)
    return request


def single(service: Authz, caller, body: object, path_tenant: str | None, *,
           database: bool) -> Answered:
    """/check."""
    request = request_of(service, caller, body, path_tenant, database=database)
    code, revision, requires = decide(service, caller, request, database)
    return Answered(check_answer.single(code, requires, revision), revision)


def batch(service: Authz, caller, body: object, path_tenant: str | None, *,
          database: bool) -> Answered:
    """/check/batch: in order, each tenant at one revision."""
    requests, wanted = check_input.batch_requests(
        body, service.settings.max_batch,
        lambda name: service.check_tenant(caller, in_path(path_tenant, name)))
    service.check_areas(caller, requests)
    tenants = {r[0] for r in requests}
    if wanted is not None:
        if len(tenants) != 1:
            raise InvalidInput("a revision is one tenant's: this batch names several",
                               {"json": {"at_least_revision": [
                                   "only for a batch about one tenant"]}})
        _reach(service, next(iter(tenants)), wanted, database)
    answers = service.answer(requests, database=database, tenants=tenants)
    requires, item, granted, GRANTED, may = (service.decider.requires, check_answer.item,
                                             check_answer.GRANTED, W.GRANTED, W.MAY_REQUIRE)
    results = ",".join([granted if a is GRANTED else item(a, requires(r[0], r[3], r[4], a)
                                                           if a in may else None)
                        for a, r in zip(answers, requests, strict=True)])
    revision_of = service.replica.revision
    if len(tenants) == 1:
        revision = revision_of(next(iter(tenants)))
        text = f'{{"results":[{results}],"revision":{revision}}}'
    else:  # the admin's batch over several tenants: each one's revision
        revision = None  # (tenant ids are identifiers: nothing to escape)
        revisions = ",".join(f'"{t}":{revision_of(t)}' for t in sorted(tenants))
        text = f'{{"results":[{results}],"revision":null,"revisions":{{{revisions}}}}}'
    allowed = answers.count(GRANTED)
    telemetry.count_decisions(allowed, len(answers) - allowed)
    telemetry.BATCH_SIZE.observe(len(answers))
    return Answered(text, revision)


def evaluation_tenant(service: Authz, caller, path_tenant: str | None) -> str:
    """The tenant an AuthZEN request asks about: the key's, or the path's (refused for
    another tenant's key, 403). The admin and app keys name it on the path."""
    try:
        return service.check_tenant(caller, in_path(path_tenant, None))
    except InvalidInput as exc:
        raise Z.BadRequest(f"{exc.message}: use {Z.TENANT_BASE.replace('<tenant>', '{tenant}')}",
                           {"tenant": ["named on the path with this key"]}) from None


def evaluation_request(tenant: str, evaluation: dict) -> CheckRequest:
    """The /check an AuthZEN evaluation means (400 naming the field; a type that is not
    one of ours, too)."""
    try:
        item, product = Z.read(evaluation)
    except Z.Unsupported as exc:
        raise Z.BadRequest(str(exc), exc.errors) from None
    return check_input.check_request(tenant, Z.checked(item, product))


def evaluation(service: Authz, caller, body: object, path_tenant: str | None, *,
               database: bool) -> Answered:
    """AuthZEN's Access Evaluation: the /check it means, as AuthZEN's Decision."""
    body = Z.body_object(body)
    request = evaluation_request(evaluation_tenant(service, caller, path_tenant), body)
    service.check_areas(caller, (request,))
    code, revision, requires = decide(service, caller, request, database)
    return Answered(Z.text(Z.decision(code, requires, revision)), revision)
