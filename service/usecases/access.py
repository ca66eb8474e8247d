"""Who can do what: answered from this worker's decisions, complete, with the path of
each answer (domain/explain.py), all at one revision of the tenant (held in memory)."""

from __future__ import annotations

from ..domain import amounts
from ..domain import reasons as W
from ..domain import rules as R
from ..domain.catalogue import PRODUCT_AREA
from ..domain.decider import CheckRequest
from ..domain.errors import Forbidden, InvalidInput, NotFound
from ..domain.keys import APP, Caller
from . import rights
from .authz import Authz
from .rights import operation


def _request(tenant: str, subject: str, store: str, permission, second_factor: bool):
    return CheckRequest(tenant, subject, store, permission.area, permission.action,
                        second_factor)


def _allowed(service: Authz, tenant: str, permission: str, second_factor: bool,
             pairs: list[tuple[str, str]], key: str) -> list[dict]:
    """For each (subject, store) allowed `permission`: {key: subject or store, why}."""
    perm = service.catalogue(tenant).permission(permission)
    decider = service.held(tenant)
    out = []
    for subject, store in pairs:
        explained = decider.explain(_request(tenant, subject, store, perm,
                                                     second_factor))
        if explained.allowed:
            out.append({key: subject if key == "subject" else store,
                        "reason": explained.reason,
                        "paths": [p.as_dict() for p in explained.allows]})
    return out


@operation(rights.READ)
def who_can(service: Authz, caller: Caller, tenant: str, permission: str, store: str,
            second_factor: bool) -> list[dict]:
    """Every subject allowed `permission` in `store`, each with the paths that allow it."""
    service.require_tenant(tenant)
    R.identifier(store, "store")
    pairs = [(s, store) for s in service.held(tenant).assigned(tenant, store)]
    return _allowed(service, tenant, permission, second_factor, pairs, "subject")


@operation(rights.READ)
def stores_where(service: Authz, caller: Caller, tenant: str, login: str, permission: str,
                 second_factor: bool) -> list[dict]:
    """Every store of the tenant where `login` is allowed `permission`, with the paths."""
    service.require_tenant(tenant)
    R.identifier(login, "login")
    pairs = [(login, s) for s in service.held(tenant).stores(tenant)]
    return _allowed(service, tenant, permission, second_factor, pairs, "store")


@operation(rights.READ)
def explained_matrix(service: Authz, caller: Caller, tenant: str, store: str, second_factor: bool
                     ) -> tuple[list[str], dict[str, dict[str, object]]]:
    """(subjects, subject -> permission -> Explanation) for one store: the matrix with the
    reason of every cell (the console shows it on hover and the rules on click)."""
    service.require_tenant(tenant)
    R.identifier(store, "store")
    known = service.catalogue(tenant)
    decider = service.held(tenant)
    subjects = decider.assigned(tenant, store)
    return subjects, {s: {p.name: decider.explain(_request(tenant, s, store, p,
                                                                   second_factor))
                          for p in known.permissions} for s in subjects}


@operation(rights.READ)
def matrix(service: Authz, caller: Caller, tenant: str, store: str, second_factor: bool
           ) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """(subjects, permissions, subject -> permissions allowed) for one store."""
    service.require_tenant(tenant)
    R.identifier(store, "store")
    known = service.catalogue(tenant)
    decider = service.held(tenant)
    subjects = decider.assigned(tenant, store)
    names = [p.name for p in known.permissions]
    allowed = {s: [p.name for p in _granted(decider, known.permissions, [
        _request(tenant, s, store, p, second_factor) for p in known.permissions])]
        for s in subjects}
    return subjects, names, allowed


# -- what can this user do here (R21): for storefronts drawing menus, on /check's rights --
def _own(asker: Caller, names: list[str]) -> list[str]:
    """An app key sees only its own app's permissions (the DECIDE row, for apps)."""
    if asker.scope != APP:
        return names
    prefix = f"{asker.app}."
    return [n for n in names if n.startswith(prefix)]


@operation(rights.DECIDE)
def permissions_of(service: Authz, caller: Caller, tenant: str, subject: str, store: str,
                   second_factor: bool) -> tuple[int, list[str], dict[str, str]]:
    """(revision, every permission `subject` is allowed in `store`, those it is allowed
    only up to a limit with the highest such limit: R22), as /check decides each, from
    this worker's memory; a subject or store the tenant does not have is allowed
    nothing."""
    R.identifier(tenant, "tenant")
    R.identifier(subject, "subject")
    R.identifier(store, "store")
    if not service.replica.hold(tenant):
        raise NotFound(f"no such tenant {tenant!r}", {"tenant": ["not found"]})
    decider = service.decider
    allowed = decider.permissions_of(
        tenant, subject, store, second_factor,
        lambda: [(p.area, p.action) for p in service.catalogue(tenant).permissions])
    limited = decider.limits_of(tenant, subject, store, second_factor, allowed)
    names = _own(caller, [f"{a}:{b}" for a, b in allowed])
    limits = {name: amounts.shown(limited[(a, b)])
              for (a, b) in limited for name in _own(caller, [f"{a}:{b}"])}
    return service.replica.revision(tenant), names, limits


@operation(rights.DECIDE)
def stores_allowed(service: Authz, caller: Caller, tenant: str, subject: str,
                   permission: str, second_factor: bool) -> tuple[int, list[str]]:
    """(revision, every store of the tenant where `subject` is allowed `permission`),
    sorted and complete."""
    R.identifier(tenant, "tenant")
    R.identifier(subject, "subject")
    area, colon, action = permission.partition(":") if isinstance(permission, str) else ("", "", "")
    if not colon or not R.IDENTIFIER.fullmatch(area) or not R.IDENTIFIER.fullmatch(action):
        raise InvalidInput("permission is area:action", {"permission": ["area:action"]})
    if not _own(caller, [permission]):
        raise Forbidden("an app key asks only about its own app's permissions",
                        {"permission": [f"must start with {caller.app}."]})
    if not service.replica.hold(tenant):
        raise NotFound(f"no such tenant {tenant!r}", {"tenant": ["not found"]})
    decider = service.decider
    candidates = decider.stores(tenant)
    stores = _granted(decider, candidates, [
        CheckRequest(tenant, subject, s, area, action, second_factor) for s in candidates])
    return service.replica.revision(tenant), stores


# -- AuthZEN's searches (api/authzen.py): complete and exact ---------------------------
SEARCHES = ("subject", "resource", "action")


@operation(rights.DECIDE)
def search(service: Authz, caller: Caller, asked: CheckRequest, kind: str
           ) -> tuple[int, list[str]]:
    """(revision, every subject, store or permission - `kind` - for which `asked`, with
    that one field replaced, is allowed), each decided as /check decides it, all at one
    revision of the tenant: a result always evaluates true and nothing that would is
    left out. Candidates: the subjects assigned to the store (the owner included: no one
    else can be allowed there, R14), the tenant's stores, the tenant's catalogue (an app
    key: its own app's permissions)."""
    tenant = asked.tenant
    if not service.replica.hold(tenant):
        return -1, []
    decider = service.decider
    if kind == "subject":
        candidates = decider.assigned(tenant, asked.store)
        requests = [asked._replace(subject=s) for s in candidates]
    elif kind == "resource":
        candidates = decider.stores(tenant)
        requests = [asked._replace(store=s) for s in candidates]
    else:  # (about one product: the products area's permissions and the apps')
        candidates = _own(caller, [p.name for p in service.catalogue(tenant).permissions
                                   if not asked.product or p.area == PRODUCT_AREA
                                   or "." in p.area])
        requests = [asked._replace(area=n.rpartition(":")[0], action=n.rpartition(":")[2])
                    for n in candidates]
    return service.replica.revision(tenant), _granted(decider, candidates, requests)


def _granted(decider, candidates: list, requests: list) -> list:
    """The candidates whose request (the one at the same place) the decider grants, in
    order: one batch through the decider's one entry."""
    answers = decider.answer_many(requests)
    return [c for c, a in zip(candidates, answers, strict=True) if a == W.GRANTED]
