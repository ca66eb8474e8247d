"""Import, diff and lint of a tenant's policy file (R20): one implementation for the API
and the CLI. An import is one write: all of it or none of it."""

from __future__ import annotations

from ..domain import apps as app_model
from ..domain import keys
from ..domain import policy_files as PF
from ..domain import subaccounts as S
from ..domain.errors import InvalidInput
from ..domain.keys import Caller
from ..domain.rules import Rule
from ..storage import apps_store, policy_store
from . import decision_log, rights
from .authz import Authz
from .rights import operation


def _plan(tenant: str, before: set[Rule], after: set[Rule], recent: list,
          known) -> dict:
    """Pure: what replacing `before` by `after` changes (safe to run inside a write);
    `known`: the catalogue of the built-in permissions and the apps of both."""
    total, items, complete = PF.decision_changes(tenant, before, after, known=known)
    return {"added": [r.csv() for r in sorted(after - before)],
            "removed": [r.csv() for r in sorted(before - after)],
            "decision_changes": {"total": total, "items": items, "complete": complete},
            "recent_decisions": decision_log.impact(tenant, after, recent)}


@operation(rights.POLICY_IMPORT)
def import_policy(service: Authz, caller: Caller, tenant: str, text: str, *,
                  dry_run: bool, reason: str | None = None, source: str = "import.csv",
                  progress=None, directory: dict | None = None) -> dict:
    """Make the tenant's rules exactly the file's. Dry run: the same edit on a copy of the
    committed policy, held to the same invariants (so it fails where the import would),
    nothing written. Otherwise one revision. With `directory` (export.json's), profiles,
    department names, settings and expiries are made the document's too. The plan (rules
    and decisions that change) is worked out outside any transaction, from what the edit
    replaced."""
    service.require_tenant(tenant)
    # The apps the file installs, each at the version the tenant is at if it has the app
    # (its export names that version's permissions), else at the newest.
    versions = apps_store.tenant_versions(tenant, PF.apps_named(text))
    known = app_model.catalogue_of(versions)
    rules = PF.read_for_import(text, tenant, source, progress, known)
    recent = decision_log.recent(tenant)  # before the write: an edit reads nothing

    def edit(policy) -> set[Rule]:
        before = set(policy.rules())
        policy.catalogue = known  # what the tenant can grant once the file is its policy
        policy.directory.app_versions = {app: v.version for app, v in versions.items()}
        S.replace_rules(policy, rules)
        if directory is not None:
            PF.restore_directory(policy, directory, may_set_cap=caller.scope == keys.ADMIN)
        return before

    if dry_run:
        revision, before = service.preview(caller, tenant, edit)
    else:
        revision, before = service.write(caller, tenant, reason, edit,
                                         use_case=rights.POLICY_IMPORT)
    known = apps_store.tenant_catalogue(tenant, PF.apps_named(text) | PF.apps_named(
        "".join(r.csv() + "\n" for r in before)))
    return {"dry_run": dry_run, "revision": revision,
            **_plan(tenant, before, rules, recent, known)}


@operation(rights.READ)
def diff(service: Authz, caller: Caller, tenant: str, start: int, end: int) -> dict:
    """What changed in the tenant's rules from revision `start` to revision `end`."""
    service.require_tenant(tenant)
    if start < 0 or end < 0:
        raise InvalidInput("revisions are 0 or more", {"from": ["0 or more"]})
    low, high = sorted((start, end))
    entries = policy_store.tenant_changes(tenant, low, high)
    added, removed = PF.net_difference((e.added, e.removed) for e in entries)
    if start > end:
        added, removed = removed, added
    return {"tenant": tenant, "from": start, "to": end,
            "revisions": [e.revision for e in entries],
            "added": [r.csv() for r in sorted(added)],
            "removed": [r.csv() for r in sorted(removed)]}


@operation(rights.READ)
def lint(caller: Caller, tenant: str, text: str, source: str = "policy.csv") -> list[dict]:
    """Findings for a file meant for `tenant`: a read (it changes nothing), against the
    catalogues of the apps the file installs, at the versions the tenant is at."""
    known = apps_store.tenant_catalogue(tenant, PF.apps_named(text))
    return [f.as_dict() for f in PF.lint(text, tenant, source, known=known)]


def check_file(text: str, tenant: str | None, source: str = "policy.csv") -> list[dict]:
    """Findings for a file, offline (the CLI's lint: no caller, no database, so an app's
    permissions are unknown here: lint through the API for a file with apps)."""
    return [f.as_dict() for f in PF.lint(text, tenant, source)]
