"""Apps that bring their own permissions (R21): registering, keys, catalogue versions,
and installing into tenants. One implementation for the API (and the CLI, console).

Publishing a version touches every tenant that installed the app: each is an ordinary
write of that tenant (its own revision and ledger entry, by `app:<id>`), made after the
version is stored, that also records the version the tenant is at. There is no
transaction across tenants: a tenant whose write fails stays at its version (its rules
and its catalogue agree) and is listed in the answer; sending the newest version again
brings every tenant behind it up, through each version it missed.
"""

from __future__ import annotations

import time
from dataclasses import asdict

from ..domain import apps as app_model
from ..domain import keys
from ..domain.errors import Conflict, InvalidInput, NotFound, ServiceError
from ..domain.tenant_policy import TenantPolicy
from ..storage import apps_store, policy_store
from . import rights
from .authz import Authz
from .rights import operation


@operation(rights.APP_REGISTER)
def register(service: Authz, caller: keys.Caller, app: str, names: dict) -> dict:
    """Register the app; the answer carries its key, shown this once."""
    app_model.app_id(app)
    texts = app_model.display_names(names)
    key_id, token = keys.new_token()
    apps_store.register(app, texts, key_id, keys.digest(token))
    return {"app": app, "name": texts, "key_id": key_id, "token": token}


def _require(app: str) -> dict:
    app_model.app_id(app)
    found = apps_store.describe(app)
    if found is None:
        raise NotFound(f"no such app {app!r}", {"app": ["not registered"]})
    return found


@operation(rights.APP_PUBLISH)
def describe(service: Authz, caller: keys.Caller, app: str) -> dict:
    """The app, its newest catalogue version and the tenants that installed it."""
    found = _require(app)
    version = apps_store.latest(app)
    return {**found, "catalogue": version.document() if version else None,
            "installed_in": apps_store.installed_in(app)}


@operation(rights.APP_PUBLISH)
def rotate_key(service: Authz, caller: keys.Caller, app: str, replaces: str | None = None,
               overlap_seconds: int = 86_400) -> dict:
    """A new key for the app; the one it replaces keeps working for `overlap_seconds`."""
    _require(app)
    if not 0 <= overlap_seconds <= keys.MAX_OVERLAP_SECONDS:
        raise InvalidInput("overlap out of range", {"overlap_seconds": ["0 to 30 days"]})
    until = None
    if replaces is not None:
        working = {k.key_id: k for k in apps_store.working_keys(app)}
        old = working.get(replaces)
        if old is None:
            raise NotFound(f"no working key {replaces!r} of this app",
                           {"replaces": ["not found"]})
        if old.valid_until is not None:
            raise Conflict("that key is already rotating", {"replaces": ["already rotating"]})
        until = time.time() + overlap_seconds
    key_id, token = keys.new_token()
    apps_store.add_key(app, key_id, keys.digest(token), replaces, until)
    return {"app": app, "key_id": key_id, "token": token, "replaced": replaces,
            "replaced_until": until}


@operation(rights.APP_PUBLISH)
def revoke_key(service: Authz, caller: keys.Caller, app: str, key_id: str) -> dict:
    """Revoke one of the app's keys at once (every worker within replica.APP_KEY_SECONDS).
    The app cannot revoke its last working key, only replace it; the platform admin can
    (cutting the app off)."""
    _require(app)
    working = {k.key_id: k for k in apps_store.working_keys(app)}
    if key_id not in working:
        raise NotFound(f"no working key {key_id!r} of this app", {"key_id": ["not found"]})
    active = [k for k in working.values() if k.valid_until is None]
    if caller.scope == keys.APP and working[key_id].valid_until is None and len(active) <= 1:
        raise Conflict("the app's last key; create its replacement first",
                       {"key_id": ["last key"]})
    at = time.time()
    apps_store.end_key(app, key_id, at)
    return {"app": app, "key_id": key_id, "valid_until": at}


@operation(rights.APP_PUBLISH)
def publish(service: Authz, caller: keys.Caller, app: str, body: object,
            dry_run: bool = False) -> dict:
    """Publish the next catalogue version. Refused whole when it removes a permission some
    tenant still grants (rename it instead), or when some tenant's change would be
    refused. The answer lists, per tenant that installed the app, the rules the version
    changes there; with `dry_run` nothing is stored. The newest version sent again
    publishes nothing: it brings every tenant still behind it up (`republished`)."""
    _require(app)
    service.limiter.hit(caller.key_id)
    previous = apps_store.latest(app)
    again = previous is not None and _same(app, body, previous)
    version = previous if again else app_model.read_version(app, body, previous)
    if not again:
        gone = app_model.removed(previous, version)
        still = apps_store.granting(app, gone)
        if still:
            raise Conflict("the version removes permissions that tenants still grant; "
                           "rename or deprecate them instead",
                           {"permissions": [f"{t}: {rule}"
                                            for t, rules in sorted(still.items())
                                            for rule in rules][:100]})
    tenants = {t: at for t, at in apps_store.installed_versions(app).items()
               if at is None or at < version.version}
    steps = _steps(app, tenants, None if again else version)
    # Every tenant's change is tried first: a version that one tenant would refuse (a
    # limit lifted, an owner-only permission left granted, an invariant broken) is
    # refused whole, naming the tenants, rather than published with that tenant behind.
    affected, refused = {}, {}
    for tenant in tenants:
        try:
            _, report = service.preview(caller_for(app), tenant,
                                        lambda p: app_model.bring_up(p, app, steps), limited=False)
        except (Conflict, InvalidInput) as exc:
            refused[tenant] = {"message": exc.message, "errors": exc.errors}
            continue
        if _changes(report):
            affected[tenant] = report
    if refused:
        raise Conflict(f"the version cannot be applied in {len(refused)} tenant(s) that "
                       "installed the app; nothing was published",
                       {"tenants": refused})
    answer = {"app": app, "version": version.version, "republished": again}
    if dry_run:
        return {**answer, "dry_run": True, "tenants": affected, "failed": {}}
    if not again:
        apps_store.publish(version, caller.describe())
    return {**answer, "dry_run": False, **upgrade_tenants(service, app, steps, tenants)}


def _same(app: str, body: object, newest: app_model.AppVersion) -> bool:
    """Whether `body` is the newest version sent again (read against the one before it)."""
    before = apps_store.version(app, newest.version - 1)
    try:
        return app_model.read_version(app, body, before).document() == newest.document()
    except InvalidInput:
        return False


def _steps(app: str, tenants: dict[str, int | None],
           new: app_model.AppVersion | None) -> list[app_model.AppVersion]:
    """The versions that bring each of `tenants` (-> the version it is at) up to the
    newest, oldest first, `new` (not stored yet) last."""
    known = [at for at in tenants.values() if at is not None]
    after = min(known) if known else (new.version - 1 if new else 0)
    steps = apps_store.versions(app, after) if tenants else []
    return steps + [new] if new is not None else steps


def upgrade_tenants(service: Authz, app: str, steps: list[app_model.AppVersion],
                    tenants) -> dict:
    """Bring each tenant's rules of the app through `steps` to the newest version: one
    write per tenant, in its ledger by `app:<id>`. A tenant whose write fails stays at
    the version it was at, its rules and catalogue together, until publishing again."""
    done, failed = {}, {}
    actor = caller_for(app)
    newest = steps[-1].version if steps else None
    for tenant in tenants:
        try:
            revision, report = service.write(
                actor, tenant, f"catalogue version {newest} of app {app}",
                lambda p: app_model.bring_up(p, app, steps), limited=False,
                use_case=rights.APP_PUBLISH)
        except ServiceError as exc:
            failed[tenant] = str(exc)
            continue
        if _changes(report):
            done[tenant] = {"revision": revision, **report}
    return {"tenants": done, "failed": failed}


def caller_for(app: str) -> keys.Caller:
    """The app acting on the tenants that installed it, through the service itself (a
    version's renames): the ledger names it `app:<id>`. Only this module makes one."""
    return keys.Caller(f"app-{app}", keys.ADMIN, None, app=app)


def _changes(report: dict) -> bool:
    return any(report.values())


@operation(rights.APP_INSTALL)
def install(service: Authz, caller: keys.Caller, tenant: str, app: str,
            reason: str | None = None) -> tuple[int, dict]:
    """Install the app's newest version in the tenant (its role templates added)."""
    _require(app)
    version = apps_store.latest(app)
    if version is None:
        raise Conflict(f"app {app!r} has published no catalogue yet",
                       {"app": ["no catalogue published"]})
    return service.write(caller, tenant, reason, lambda p: app_model.install(p, version),
                         use_case=rights.APP_INSTALL)


@operation(rights.APP_UNINSTALL)
def uninstall(service: Authz, caller: keys.Caller, tenant: str, app: str,
              dry_run: bool = False, reason: str | None = None) -> tuple[int, dict]:
    """Remove the app and every rule of it from the tenant; `dry_run`: report only."""
    app_model.app_id(app)

    def edit(policy: TenantPolicy) -> dict:
        return app_model.uninstall(policy, app)

    if dry_run:
        revision, report = service.preview(caller, tenant, edit)
        return revision, {**report, "dry_run": True}
    revision, report = service.write(caller, tenant, reason, edit,
                                     use_case=rights.APP_UNINSTALL)
    return revision, {**report, "dry_run": False}


@operation(rights.APP_IMPORT)
def import_grants(service: Authz, caller: keys.Caller, tenant: str, app: str, grants: object,
                  dry_run: bool = True, reason: str | None = None) -> tuple[int, dict]:
    """Move the app's existing per-sub-account permissions into the tenant as one
    revision (or, `dry_run`, report what would change and every problem). `grants`: a
    list of items, or the text of a file (domain/apps.grants_from_csv), whose problems
    are then named by line."""
    app_model.app_id(app)
    lines = None
    if isinstance(grants, str):  # a file of the app's own settings, line by line
        grants, lines = app_model.grants_from_csv(grants)

    def edit(policy: TenantPolicy) -> dict:
        try:
            return app_model.import_grants(policy, app, grants)
        except InvalidInput as exc:
            raise app_model.by_line(exc, lines) if lines is not None else exc from None

    if dry_run:
        revision, report = service.preview(_writer(caller), tenant, edit)
        return revision, {**report, "dry_run": True}
    revision, report = service.write(_writer(caller), tenant, reason, edit,
                                     use_case=rights.APP_IMPORT)
    return revision, {**report, "dry_run": False}


def _writer(importer: keys.Caller) -> keys.Caller:
    """Who writes an import: the app (allowed here, by APP_IMPORT, in a tenant that
    installed it; the ledger names it app:<id>), or the owner or admin themselves."""
    return caller_for(importer.app) if importer.scope == keys.APP else importer


@operation(rights.CATALOGUE_READ)
def tenant_catalogue(service: Authz, caller: keys.Caller, tenant: str) -> dict:
    """The tenant's catalogue: built-in permissions and its installed apps'."""
    service.require_tenant(tenant)
    policy = policy_store.read(tenant)
    known = policy.catalogue
    return {"revision": policy.revision, "apps": sorted(known.apps),
            "permissions": [{**asdict(p), "name": p.name} for p in known.permissions]}


@operation(rights.CATALOGUE_READ)
def available(service: Authz, caller: keys.Caller, tenant: str) -> list[dict]:
    """Every registered app, whether the tenant installed it, and its newest version."""
    service.require_tenant(tenant)
    installed = service.decider.apps(tenant) if service.replica.hold(tenant) else set()
    return [{**app, "installed": app["app"] in installed} for app in apps_store.listing()]
