"""Apps (R21) in the database: the registry, catalogue versions and app keys.

An app's own changes (registering, a key, a catalogue version) are not any tenant's: each
is one short transaction of its own here. What a version does to the tenants that
installed it is one ordinary tenant write each (usecases/unit_of_work.write), in their ledgers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from ..domain import amounts, keys
from ..domain import apps as app_model
from ..domain import rules as R
from ..domain.catalogue import BUILT_IN, Catalogue
from ..domain.errors import Conflict
from . import failures, keys_store
from .models import ApiKey, App, AppCatalogue, PolicyRule, TenantApp, db, utcnow


def _commit() -> None:
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("the change conflicts with a concurrent one; retry") from exc
    except BaseException:
        db.session.rollback()
        raise


def register(app: str, names: dict[str, str], key_id: str, secret_hash: str) -> None:
    """The app and its first key, in one transaction; 409 if the id is taken."""
    with failures.committing():
        if db.session.get(App, app) is not None:
            db.session.rollback()
            raise Conflict(f"app {app!r} exists", {"app": ["already registered"]})
        db.session.add(App(id=app, name_en=names["en"], name_zh=names["zh-CN"]))
        db.session.add(ApiKey(id=key_id, tenant=None, app=app, scope=keys.APP,
                              secret_hash=secret_hash))
        _commit()


def describe(app: str) -> dict | None:
    """The app's names and newest version number, or None if it is not registered."""
    with failures.reading():
        row = db.session.get(App, app)
        if row is None:
            return None
        newest = db.session.execute(select(func.max(AppCatalogue.version))
                                    .where(AppCatalogue.app == app)).scalar()
        return {"app": app, "name": {"en": row.name_en, "zh-CN": row.name_zh},
                "version": newest, "created_at": row.created_at.isoformat()}


def listing() -> list[dict]:
    """Every registered app: its names and newest version number (None: none published)."""
    with failures.reading():
        versions = dict(db.session.execute(
            select(AppCatalogue.app, func.max(AppCatalogue.version))
            .group_by(AppCatalogue.app)).all())
        return [{"app": row.id, "name": {"en": row.name_en, "zh-CN": row.name_zh},
                 "version": versions.get(row.id)}
                for row in db.session.execute(select(App).order_by(App.id)).scalars()]


def newest(apps) -> dict[str, app_model.AppVersion]:
    """The newest published version of each of `apps` that has one (in the caller's
    transaction: a write reads its tenant's catalogue with its rules)."""
    apps = sorted(set(apps))
    if not apps:
        return {}
    newest_of = select(AppCatalogue.app, func.max(AppCatalogue.version).label("version")) \
        .where(AppCatalogue.app.in_(apps)).group_by(AppCatalogue.app).subquery()
    rows = db.session.execute(select(AppCatalogue.document).join(newest_of, and_(
        AppCatalogue.app == newest_of.c.app,
        AppCatalogue.version == newest_of.c.version))).scalars()
    out = {}
    for document in rows:
        version = app_model.from_document(json.loads(document))
        out[version.app] = version
    return out


def at_versions(wanted: dict[str, int | None]) -> dict[str, app_model.AppVersion]:
    """The given version of each app (None: its newest), in the caller's transaction: a
    tenant's apps at the versions it is at."""
    exact = {app: v for app, v in wanted.items() if v is not None}
    out = newest([app for app, v in wanted.items() if v is None])
    if exact:
        rows = db.session.execute(select(AppCatalogue.document).where(or_(*(
            and_(AppCatalogue.app == app, AppCatalogue.version == v)
            for app, v in exact.items())))).scalars()
        for document in rows:
            version = app_model.from_document(json.loads(document))
            out[version.app] = version
    return out


def tenant_versions(tenant: str, apps) -> dict[str, app_model.AppVersion]:
    """Each of `apps` at the version the tenant is at (the newest where it has none), in
    a read transaction of its own."""
    if not apps:
        return {}
    with failures.reading():
        at = dict(db.session.execute(select(TenantApp.app, TenantApp.version)
                                     .where(TenantApp.tenant == tenant)).all())
        return at_versions({app: at.get(app) for app in apps})


def tenant_catalogue(tenant: str, apps) -> Catalogue:
    """The tenant's catalogue: the built-in permissions and each of its installed `apps`
    at the version the tenant is at, in a read transaction of its own."""
    return app_model.catalogue_of(tenant_versions(tenant, apps)) if apps else BUILT_IN


def version(app: str, number: int) -> app_model.AppVersion | None:
    """One version of the app, in a read transaction of its own."""
    with failures.reading():
        row = db.session.execute(select(AppCatalogue.document).where(
            AppCatalogue.app == app, AppCatalogue.version == number)).scalar()
        return None if row is None else app_model.from_document(json.loads(row))


def versions(app: str, after: int) -> list[app_model.AppVersion]:
    """The app's versions numbered above `after`, oldest first, in a read transaction of
    its own: the steps that bring a tenant at `after` up to the newest."""
    with failures.reading():
        return [app_model.from_document(json.loads(d)) for d in db.session.execute(
            select(AppCatalogue.document).where(AppCatalogue.app == app,
                                                AppCatalogue.version > after)
            .order_by(AppCatalogue.version)).scalars()]


def installed_versions(app: str) -> dict[str, int | None]:
    """Each tenant that installed the app and the version it is at (None: not recorded,
    taken as the newest)."""
    with failures.reading():
        at = dict(db.session.execute(select(TenantApp.tenant, TenantApp.version)
                                     .where(TenantApp.app == app)).all())
        return {tenant: at.get(tenant)
                for tenant in db.session.execute(_installed_in(app)).scalars()}


def high_risk() -> frozenset[tuple[str, str]]:
    """(area, action) of every high-risk permission of every app's newest version."""
    with failures.reading():
        apps = db.session.execute(select(App.id)).scalars().all()
        return frozenset((p.area, p.action) for version in newest(apps).values()
                         for p in version.permissions if p.high_risk)


def latest(app: str) -> app_model.AppVersion | None:
    """newest() of one app, in a read transaction of its own."""
    with failures.reading():
        row = db.session.execute(
            select(AppCatalogue.document).where(AppCatalogue.app == app)
            .order_by(AppCatalogue.version.desc()).limit(1)).scalar()
        return None if row is None else app_model.from_document(json.loads(row))


def publish(version: app_model.AppVersion, actor: str) -> None:
    """Store the version; 409 when another was published meanwhile (the same number)."""
    with failures.committing():
        db.session.add(AppCatalogue(app=version.app, version=version.version,
                                    document=json.dumps(version.document(), sort_keys=True),
                                    published_by=actor))
        _commit()


def installed_in(app: str) -> list[str]:
    """The tenants that installed the app (their `g2, app:<app>, <tenant>` rule)."""
    with failures.reading():
        return list(db.session.execute(_installed_in(app)).scalars())


def _installed_in(app: str):
    return select(PolicyRule.tenant).where(PolicyRule.ptype == "g2",
                                           PolicyRule.v0 == R.installed(app)) \
        .order_by(PolicyRule.tenant)


def granting(app: str, local_names: list[str]) -> dict[str, list[str]]:
    """Tenant -> the rules (CSV) of theirs that name one of these permissions of the app,
    step-up rules apart (they follow the catalogue by themselves)."""
    tenants = installed_in(app)
    if not tenants or not local_names:
        return {}
    wanted = {(f"{app}.{n.split(':')[0]}", n.split(":")[1]) for n in local_names}
    out: dict[str, list[str]] = {}
    with failures.reading():
        rows = db.session.execute(text(
            "SELECT tenant, v0, v1, v2, v3, v4 FROM policy_rule WHERE ptype = 'p' "
            "AND v2 LIKE :prefix AND v0 <> :step_up AND tenant IN "
            f"({', '.join(f':t{i}' for i in range(len(tenants)))})"),
            {"prefix": f"{app}.%", "step_up": R.STEP_UP,
             **{f"t{i}": t for i, t in enumerate(tenants)}}).all()
    for tenant, *values in rows:
        if (values[2], amounts.split(values[3])[0]) in wanted:  # (a limited grant too: R22)
            out.setdefault(tenant, []).append(", ".join(["p", *values]))
    return out


def add_key(app: str, key_id: str, secret_hash: str, replaces: str | None,
            until: float | None) -> None:
    """A new key of the app; the one it `replaces` stops working at `until`."""
    with failures.committing():
        db.session.add(ApiKey(id=key_id, tenant=None, app=app, scope=keys.APP,
                              secret_hash=secret_hash))
        if replaces is not None:
            db.session.execute(update(ApiKey).where(ApiKey.id == replaces, ApiKey.app == app)
                               .values(revoked_at=datetime.fromtimestamp(until, UTC)))
        _commit()


def end_key(app: str, key_id: str, at: float) -> None:
    """The app's key stops working at `at` (Unix seconds)."""
    with failures.committing():
        db.session.execute(update(ApiKey).where(ApiKey.id == key_id, ApiKey.app == app)
                           .values(revoked_at=datetime.fromtimestamp(at, UTC)))
        _commit()


def working_keys(app: str) -> list[keys.KeyRecord]:
    with failures.reading():
        return [keys_store.record(r) for r in db.session.execute(select(ApiKey).where(
            ApiKey.app == app,
            or_(ApiKey.revoked_at.is_(None), ApiKey.revoked_at > utcnow()))
            .order_by(ApiKey.id)).scalars()]
