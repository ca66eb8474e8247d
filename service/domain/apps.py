"""Apps that bring their own permissions (R21): catalogue versions, and what installing,
uninstalling and upgrading an app does to one tenant's policy.

An app (an analytics tool, an ads manager) publishes numbered catalogue versions. Inside
the service its permission `campaigns:edit` is `<app>.campaigns:edit`, checked as object
`<app>.campaigns`: ordinary Casbin rules, so the model and the auditor's replay are
unchanged. A tenant that installed the app holds `g2, app:<app>, <tenant>`; only then
are the app's permissions grantable or allowed there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import amounts, catalogue
from . import rules as R
from .catalogue import APP_ID, APP_PART, Permission
from .errors import Conflict, InvalidInput, NotFound
from .rules import Kind, Rule
from .tenant_policy import TenantPolicy

MAX_PERMISSIONS = 200
MAX_TEMPLATES = 20
MAX_TEXT = 200
LANGUAGES = ("en", "zh-CN")
PERMISSION_FIELDS = frozenset(("name", "description", "high_risk", "owner_only", "per_product",
                               "amount"))
MARKS = ("high_risk", "owner_only", "per_product", "amount")
VERSION_FIELDS = frozenset(("permissions", "deprecated", "renames", "role_templates"))


def app_id(value: object, field: str = "app") -> str:
    if not isinstance(value, str) or not APP_ID.fullmatch(value):
        raise InvalidInput(f"{field} must be 2-32 characters of a-z, 0-9 and '-', starting "
                           "with a letter", {field: ["invalid app id"]})
    return value


def display_names(value: object, field: str = "name") -> dict[str, str]:
    """{"en": ..., "zh-CN": ...}: both languages, each 1-200 characters."""
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be an object of en and zh-CN texts",
                           {field: ["an object with en and zh-CN"]})
    errors = {k: ["Unknown field."] for k in value if k not in LANGUAGES}
    for language in LANGUAGES:
        text = value.get(language)
        if not isinstance(text, str) or not 0 < len(text.strip()) <= MAX_TEXT \
                or "\x00" in text:
            errors[language] = [f"1-{MAX_TEXT} characters"]
    if errors:
        raise InvalidInput(f"{field} is incomplete", {field: errors})
    return {language: value[language].strip() for language in LANGUAGES}


def _local_name(value: object, field: str) -> tuple[str, str]:
    """`area:action` as an app writes it (without its own prefix)."""
    if isinstance(value, str):
        area, colon, action = value.partition(":")
        if colon and APP_PART.fullmatch(area) and APP_PART.fullmatch(action):
            return area, action
    raise InvalidInput(f"{field} must be area:action, each 1-31 characters of a-z, 0-9 "
                       "and '-', starting with a letter", {field: ["not area:action"]})


@dataclass(frozen=True)
class AppVersion:
    """One published catalogue version of an app. Names here are the app's own
    (`campaigns:edit`); `permissions` carry the service's (`<app>.campaigns`)."""

    app: str
    version: int
    permissions: tuple[Permission, ...]
    deprecated: frozenset[str] = frozenset()  # local names
    renames: dict[str, str] = field(default_factory=dict)  # local old -> local new
    role_templates: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def full(self, local: str) -> str:
        """The service's name of a local permission name."""
        return f"{self.app}.{local}"

    def local_names(self) -> list[str]:
        return [p.name.split(".", 1)[1] for p in self.permissions]

    def document(self) -> dict:
        """The version as stored and shown (local names)."""
        return {
            "app": self.app, "version": self.version,
            "permissions": [{
                "name": p.name.split(".", 1)[1],
                "description": {"en": p.description, "zh-CN": p.description_zh},
                "high_risk": p.high_risk, "owner_only": p.owner_only,
                "per_product": p.per_product, "amount": p.amount,
                "deprecated": p.deprecated}
                for p in self.permissions],
            "deprecated": sorted(self.deprecated),
            "renames": dict(sorted(self.renames.items())),
            "role_templates": {k: list(v) for k, v in sorted(self.role_templates.items())},
        }


def from_document(doc: dict) -> AppVersion:
    """An AppVersion from what document() stored (already validated when published)."""
    app = doc["app"]
    deprecated = frozenset(doc.get("deprecated", ()))
    permissions = []
    for item in doc["permissions"]:
        area, _, action = item["name"].partition(":")
        permissions.append(Permission(
            f"{app}.{area}", action, item["description"]["en"], item["high_risk"],
            item["owner_only"], item.get("per_product", False), app,
            item["description"]["zh-CN"], item["name"] in deprecated,
            item.get("amount", False)))
    return AppVersion(app, doc["version"], tuple(permissions), deprecated,
                      dict(doc.get("renames", {})),
                      {k: tuple(v) for k, v in doc.get("role_templates", {}).items()})


def read_version(app: str, body: object, previous: AppVersion | None) -> AppVersion:
    """The next version from an app's PUT body, validated whole against `previous`.

    Refused with every problem named by field: unknown fields, bad names, duplicates, a
    per-product mark (by-product rules match only the built-in products area, and the
    model does not change), a rename whose old name the previous version does not hold or
    whose new name this one does not, a deprecation or role template naming a permission
    this version does not hold. A per-product permission (R17) is checked about one
    product as object `<app>.<area>/product/<id>`."""
    if not isinstance(body, dict):
        raise InvalidInput("the catalogue is an object", {"json": ["an object"]})
    errors: dict = {k: ["Unknown field."] for k in body if k not in VERSION_FIELDS}
    items = body.get("permissions")
    if not isinstance(items, list) or not 0 < len(items) <= MAX_PERMISSIONS:
        raise InvalidInput("permissions must be a list of 1 to "
                           f"{MAX_PERMISSIONS}", {"permissions": [f"1-{MAX_PERMISSIONS} items"]})
    seen: dict[str, dict] = {}
    for i, item in enumerate(items):
        where = f"permissions[{i}]"
        try:
            if not isinstance(item, dict):
                raise InvalidInput("", {where: ["an object"]})
            unknown = [k for k in item if k not in PERMISSION_FIELDS]
            if unknown:
                raise InvalidInput("", {where: {k: ["Unknown field."] for k in unknown}})
            area, action = _local_name(item.get("name"), f"{where}.name")
            name = f"{area}:{action}"
            if name in seen:
                raise InvalidInput("", {f"{where}.name": ["listed twice"]})
            texts = display_names(item.get("description"), f"{where}.description")
            marks = {}
            for mark in MARKS:
                value = item.get(mark, False)
                if not isinstance(value, bool):
                    raise InvalidInput("", {f"{where}.{mark}": ["Not a valid boolean."]})
                marks[mark] = value
            seen[name] = {"texts": texts, **marks}
        except InvalidInput as exc:
            errors.update(exc.errors or {where: [exc.message]})
    deprecated = body.get("deprecated", [])
    if not isinstance(deprecated, list) or not all(isinstance(d, str) for d in deprecated):
        errors["deprecated"] = ["a list of permission names"]
        deprecated = []
    for i, name in enumerate(deprecated):
        if name not in seen:
            errors[f"deprecated[{i}]"] = ["not a permission of this version"]
    renames = body.get("renames", {})
    if not isinstance(renames, dict) or not all(isinstance(v, str) for v in renames.values()):
        errors["renames"] = ["an object of old name -> new name"]
        renames = {}
    before = set(previous.local_names()) if previous is not None else set()
    for old, new in renames.items():
        if old not in before:
            errors[f"renames.{old}"] = ["not a permission of the previous version"]
        elif old in seen:
            errors[f"renames.{old}"] = ["still listed in this version: a rename replaces it"]
        if new not in seen:
            errors[f"renames.{old}"] = ["the new name is not a permission of this version"]
    if len(set(renames.values())) != len(renames):
        errors["renames"] = ["two permissions renamed to one"]
    templates = body.get("role_templates", {})
    if not isinstance(templates, dict) or len(templates) > MAX_TEMPLATES:
        errors["role_templates"] = [f"an object of at most {MAX_TEMPLATES} roles"]
        templates = {}
    for role, names in templates.items():
        where = f"role_templates.{role}"
        if not isinstance(role, str) or not R.IDENTIFIER.fullmatch(role):
            errors[where] = ["invalid role name"]
        elif not isinstance(names, list) or not names \
                or not all(isinstance(n, str) for n in names):
            errors[where] = ["a non-empty list of permission names"]
        elif any(n not in seen or seen[n]["owner_only"] or n in deprecated for n in names):
            errors[where] = ["names a permission this version does not hold, or one that "
                             "is owner-only or deprecated"]
    if errors:
        raise InvalidInput("the catalogue version is refused", errors)
    permissions = tuple(
        Permission(f"{app}.{name.split(':')[0]}", name.split(":")[1], v["texts"]["en"],
                   v["high_risk"], v["owner_only"], v["per_product"], app, v["texts"]["zh-CN"],
                   name in deprecated, v["amount"])
        for name, v in seen.items())
    return AppVersion(app, (previous.version if previous else 0) + 1, permissions,
                      frozenset(deprecated), dict(renames),
                      {r: tuple(dict.fromkeys(n)) for r, n in templates.items()})


def removed(previous: AppVersion | None, new: AppVersion) -> list[str]:
    """Local names the previous version held that the new one neither keeps nor renames."""
    if previous is None:
        return []
    kept = set(new.local_names()) | set(new.renames)
    return [n for n in previous.local_names() if n not in kept]


# -- one tenant's policy ---------------------------------------------------------------------
def installed_apps(policy: TenantPolicy) -> list[str]:
    return sorted(p.rule.values[0][len(R.APP_PREFIX):] for p in policy.of_kind(Kind.APP))


def _rules_of(policy: TenantPolicy, app: str) -> list[Rule]:
    """Every p rule of the tenant naming one of the app's permissions."""
    prefix = f"{app}."
    return [p.rule for p in policy.of_kind(Kind.ROLE_PERMISSION, Kind.DIRECT, Kind.STEP_UP,
                                           Kind.BY_PRODUCT, Kind.APPROVAL, Kind.APPROVAL_ALWAYS,
                                           Kind.APPROVAL_OVER_LIMIT)
            if p.rule.values[2].startswith(prefix)]


def _by_product_stores(policy: TenantPolicy) -> set[str]:
    """The store domains run by product (R17): their by-product rules cover every
    per-product permission, the installed apps' included."""
    return {p.rule.values[1] for p in policy.of_kind(Kind.BY_PRODUCT)}


def _marks(policy: TenantPolicy, version: AppVersion) -> tuple[set[Rule], set[Rule]]:
    """The step-up and by-product rules the tenant should hold for the version's
    permissions: step-up (when on) for each high-risk one, by-product for each per-product
    one in every store run by product."""
    step_up = {Rule("p", (R.STEP_UP, policy.tenant, p.area, p.action, "deny"))
               for p in version.permissions if p.high_risk} \
        if policy.of_kind(Kind.STEP_UP) else set()
    by_product = {Rule("p", (R.BY_PRODUCT, store, p.area, p.action, "deny"))
                  for store in _by_product_stores(policy)
                  for p in version.permissions if p.per_product}
    return step_up, by_product


def install(policy: TenantPolicy, version: AppVersion) -> dict:
    """Install the app: its permissions become grantable here, its suggested role
    templates are added (a name the tenant already uses is left as it is, and reported),
    and step-up, if on, covers its high-risk permissions (R10)."""
    app = version.app
    marker = Rule("g2", (R.installed(app), policy.tenant))
    if marker in policy:
        raise Conflict(f"app {app!r} is already installed", {"app": ["already installed"]})
    step_up, by_product = _marks(policy, version)
    policy.catalogue = policy.catalogue.with_app(app, version.permissions)
    policy.add(marker)
    policy.add(R.owner_app(policy.tenant, app))
    policy.directory.app_versions[app] = version.version
    roles = policy.roles()
    added, skipped = [], []
    for role, names in sorted(version.role_templates.items()):
        if role in roles:
            skipped.append(role)
            continue
        for name in names:
            perm = policy.catalogue.grantable(version.full(name), f"role_templates.{role}")
            policy.add(Rule("p", (R.role(policy.tenant, role), policy.tenant, perm.area,
                                  perm.action, "allow")))
        added.append(role)
    for rule in sorted(step_up | by_product):
        policy.add(rule)
    return {"app": app, "version": version.version, "role_templates_added": added,
            "role_templates_skipped": skipped}


def uninstall(policy: TenantPolicy, app: str) -> dict:
    """Remove the app from the tenant: every role permission, grant and deny of it, the
    grants of roles left with no permission (a role is its permissions: R6), and the app
    itself. What went is reported, like the store revocation cascade."""
    marker = Rule("g2", (R.installed(app), policy.tenant))
    if marker not in policy:
        raise NotFound(f"app {app!r} is not installed", {"app": ["not installed"]})
    before = policy.roles()
    gone = _rules_of(policy, app)
    approved = {r.values[0] for r in gone if r.values[0].startswith(R.APPROVAL_PREFIX)}
    gone += [p.rule for p in policy.of_kind(Kind.APPROVAL_SUBJECT)
             if p.rule.values[0] in approved]
    for rule in gone:
        policy.remove(rule)
    after = policy.roles()
    emptied = sorted(r for r in before if r not in after)
    grants = [p.rule for p in policy.of_kind(Kind.GRANT)
              if p.rule.values[1].partition("@")[0].split(":", 2)[2] in emptied]
    for rule in grants:
        policy.remove(rule)
    owner = R.owner_app(policy.tenant, app)
    policy.remove(marker)
    policy.remove(owner)
    policy.directory.app_versions.pop(app, None)
    policy.catalogue = policy.catalogue.without_app(app)
    return {"app": app,
            "removed_rules": sorted(r.csv() for r in gone + grants + [marker, owner]),
            "roles_removed": emptied}


def upgrade(policy: TenantPolicy, version: AppVersion) -> dict:
    """Bring the tenant's rules of an installed app to `version`: renamed permissions are
    renamed in every role, grant and deny (a time-boxed grant keeps its end); step-up, if
    on, covers exactly the version's high-risk permissions, and every store run by
    product its per-product ones."""
    app = version.app
    if Rule("g2", (R.installed(app), policy.tenant)) not in policy:
        return {"renamed_rules": {}, "step_up_added": [], "step_up_removed": [],
                "by_product_added": [], "by_product_removed": []}
    policy.catalogue = policy.catalogue.with_app(app, version.permissions)
    policy.directory.app_versions[app] = version.version
    policy.add(R.owner_app(policy.tenant, app))  # (held since the owner's app rules came)
    moves = {version.full(old): version.full(new) for old, new in version.renames.items()}
    _require_kept(policy, version, moves)
    renamed: dict[str, str] = {}
    for rule in _rules_of(policy, app):
        action, limit = amounts.split(rule.values[3])
        name = f"{rule.values[2]}:{action}"
        if name not in moves or rule.values[0] in (R.STEP_UP, R.BY_PRODUCT):
            continue  # (these follow the version's marks below)
        area, _, action = moves[name].partition(":")
        if limit:
            action = amounts.limited(action, limit)  # (a limit moves with its grant)
        new = Rule("p", (rule.values[0], rule.values[1], area, action, rule.values[4]))
        expiry = policy.directory.expiries.get(rule.csv())
        policy.remove(rule)
        policy.add(new)
        if expiry is not None:
            policy.directory.expiries[new.csv()] = expiry
        renamed[rule.csv()] = new.csv()
    step_up, by_product = _marks(policy, version)
    wanted = step_up | by_product
    marks_removed = sorted(r.csv() for r in _rules_of(policy, app)
                           if r.values[0] in (R.STEP_UP, R.BY_PRODUCT) and r not in wanted)
    for rule in _rules_of(policy, app):
        if rule.values[0] in (R.STEP_UP, R.BY_PRODUCT) and rule not in wanted:
            policy.remove(rule)
    marks_added = [rule.csv() for rule in sorted(wanted) if policy.add(rule)]
    return {"renamed_rules": renamed,
            "step_up_added": [r for r in marks_added if r.startswith("p, step-up")],
            "step_up_removed": [r for r in marks_removed if r.startswith("p, step-up")],
            "by_product_added": [r for r in marks_added if r.startswith("p, by-product")],
            "by_product_removed": [r for r in marks_removed if r.startswith("p, by-product")]}


def bring_up(policy: TenantPolicy, app: str, steps: list[AppVersion]) -> dict:
    """upgrade() through each of `steps` (the app's versions, oldest first) above the one
    the tenant is at, in order, as one change: a tenant that missed versions takes each
    one's renames in turn. A tenant whose version is not recorded takes the last step."""
    at = policy.directory.app_versions.get(app)
    todo = [v for v in steps if v.version > at] if at is not None else steps[-1:]
    out: dict = {"versions": [v.version for v in todo], "renamed_rules": {},
                 "step_up_added": [], "step_up_removed": [], "by_product_added": [],
                 "by_product_removed": []}
    for version in todo:
        report = upgrade(policy, version)
        renamed = out["renamed_rules"]
        for old, new in report["renamed_rules"].items():
            first = next((k for k, v in renamed.items() if v == old), old)
            renamed[first] = new
        for key in ("step_up_added", "step_up_removed", "by_product_added",
                    "by_product_removed"):
            out[key] += report[key]
    return out


def _require_kept(policy: TenantPolicy, version: AppVersion, moves: dict[str, str]) -> None:
    """A version (its renames `moves`, full names) never lifts a limit nor leaves an
    owner-only permission granted: refused (409) naming each grant, for the publisher to
    rename differently or for the owner to change the grants first. The rules that give a
    permission to someone other than the owner are the ones that matter (R13), and the
    ones a limit rides on (R22)."""
    prefix = f"{version.app}."
    lifted, owner_only = [], []
    for parsed in policy.of_kind(Kind.ROLE_PERMISSION, Kind.DIRECT, Kind.APPROVAL):
        rule = parsed.rule
        if not rule.values[2].startswith(prefix) or rule.values[4] != "allow":
            continue
        action, limit = amounts.split(rule.values[3])
        name = f"{rule.values[2]}:{action}"
        target = policy.catalogue.get(moves.get(name, name))
        if target is None:
            continue  # (removed permissions are refused before: apps_store.granting)
        if limit and not target.amount:
            lifted.append(f"{rule.csv()} ({target.name} carries no amount)")
        if target.owner_only:
            owner_only.append(f"{rule.csv()} ({target.name} is owner-only)")
    if lifted or owner_only:
        errors = {}
        if lifted:
            errors["amount"] = lifted
        if owner_only:
            errors["owner_only"] = owner_only
        raise Conflict(f"version {version.version} of {version.app} would lift a limit or "
                       f"leave an owner-only permission granted in tenant {policy.tenant}",
                       errors)


def catalogue_of(versions: dict[str, AppVersion]) -> catalogue.Catalogue:
    """A tenant's catalogue from the current versions of the apps it installed."""
    return catalogue.Catalogue({app: v.permissions for app, v in versions.items()})


MAX_IMPORT = 10_000


def import_grants(policy: TenantPolicy, app: str, items: object) -> dict:
    """Move in an app's existing per-sub-account settings (R21: sellers who set them up in
    the tool): each item {"subject", "store" (one store, or "all": every store the
    sub-account is assigned), "permissions" (the app's own names)} becomes supplementary
    grants. Refused whole, every problem named by its item: an unknown sub-account, a
    store the tenant or the sub-account does not have, a permission not in the app's
    catalogue, owner-only or deprecated. Returns what it adds and what was there."""
    if Rule("g2", (R.installed(app), policy.tenant)) not in policy:
        raise Conflict(f"app {app!r} is not installed in this tenant",
                       {"app": ["not installed"]})
    if not isinstance(items, list) or not 0 < len(items) <= MAX_IMPORT:
        raise InvalidInput(f"grants must be a list of 1 to {MAX_IMPORT}",
                           {"grants": [f"1-{MAX_IMPORT} items"]})
    errors: dict = {}
    wanted: list[Rule] = []
    stores = policy.stores()
    for i, item in enumerate(items):
        where = f"grants[{i}]"
        if not isinstance(item, dict):
            errors[where] = ["an object"]
            continue
        unknown = sorted(k for k in item if k not in ("subject", "store", "permissions"))
        if unknown:
            errors[where] = {k: ["Unknown field."] for k in unknown}
            continue
        login, store, names = item.get("subject"), item.get("store"), item.get("permissions")
        if not isinstance(login, str) or login not in policy.directory.accounts:
            errors[f"{where}.subject"] = ["no such sub-account"]
            continue
        assigned = _assigned(policy, login)
        if store == "all":
            scopes = sorted(assigned)
            if not scopes:
                errors[f"{where}.store"] = [f"{login} is assigned no store"]
                continue
        elif not isinstance(store, str) or store not in stores:
            errors[f"{where}.store"] = ["not a store of this tenant"]
            continue
        elif store not in assigned:
            errors[f"{where}.store"] = [f"{login} is not assigned to {store} (R14)"]
            continue
        else:
            scopes = [store]
        if not isinstance(names, list) or not names:
            errors[f"{where}.permissions"] = ["a non-empty list of the app's permission names"]
            continue
        for j, name in enumerate(names):
            perm = policy.catalogue.get(f"{app}.{name}") if isinstance(name, str) else None
            problem = ("not in the app's catalogue" if perm is None else
                       "owner-only (R13)" if perm.owner_only else
                       "deprecated" if perm.deprecated else None)
            if problem:
                errors[f"{where}.permissions[{j}]"] = [problem]
                continue
            for scope in scopes:
                wanted.append(Rule("p", (R.user(policy.tenant, login),
                                         R.store(policy.tenant, scope), perm.area,
                                         perm.action, "allow")))
    if errors:
        raise InvalidInput(f"{len(errors)} problem(s) in the grants; nothing was imported",
                           errors)
    added = [r.csv() for r in dict.fromkeys(wanted) if policy.add(r)]
    present = sorted({r.csv() for r in wanted} - set(added))
    return {"app": app, "added": added, "already_granted": present}


def _assigned(policy: TenantPolicy, login: str) -> set[str]:
    value = R.user(policy.tenant, login)
    return {p.rule.values[1].split("/", 1)[1] for p in policy.of_kind(Kind.ASSIGNMENT)
            if p.rule.values[0] == value}


def grants_from_csv(text: str) -> tuple[list[dict], list[int]]:
    """The grants of a file exported from the app's own settings: one line per
    sub-account and store, `subject, store (or all), permission[, permission...]` (`#`
    comments and blank lines skipped). Returns the grants and the line of each."""
    grants, lines = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        grants.append({"subject": fields[0], "store": fields[1] if len(fields) > 1 else "",
                       "permissions": fields[2:]})
        lines.append(number)
    return grants, lines


def by_line(exc: InvalidInput, lines: list[int]) -> InvalidInput:
    """An import's problems named by the file's lines rather than by grants[i]."""
    named = {}
    for key, messages in exc.errors.items():
        head, _, rest = key.partition("]")
        if head.startswith("grants[") and head[7:].isdigit():
            key = f"line {lines[int(head[7:])]}" + (f" ({rest.lstrip('.')})" if rest else "")
        named[key] = messages
    return InvalidInput(exc.message.replace("the grants", "the file"), named)
