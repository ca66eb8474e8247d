"""Fixtures: an app on each storage backend with the seed policy, a client, and callers.

Storage tests (marked `storage`) run on SQLite and on PostgreSQL, the HTTP contract on
SQLite (the rules and use cases run over memory: tests/unit/). PostgreSQL tests skip only
when no server answers, and fail instead when AUTHZ_REQUIRE_POSTGRES=1 (CI sets it).
"""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
from sqlalchemy import create_engine, text

# Every write of every test, in process or in a served worker, also reads its tenant whole
# and refuses when the worker's held copy differs (storage/held_writes.py).
os.environ.setdefault("AUTHZ_VERIFY_HELD_WRITES", "1")

# Hypothesis mixes into its draws constants read from every local module imported so far,
# so one derandomized seed draws differently in processes that imported different modules
# (a test's neighbours under xdist): the state machines' sequences, and the coverage they
# assert, would depend on which tests ran before them in the process. Without that pool
# every process draws the same sequences. (Internal to hypothesis: if it moves, this does
# nothing and the tests still run, only less repeatably.)
from hypothesis.internal.conjecture import providers as _providers  # noqa: E402

if hasattr(_providers, "_get_local_constants"):
    _NO_LOCAL_CONSTANTS = _providers.Constants(
        integers=_providers.SortedSet(), floats=_providers.SortedSet(
            key=_providers.float_to_int), bytes=_providers.SortedSet(),
        strings=_providers.SortedSet())
    _providers._get_local_constants = lambda: _NO_LOCAL_CONSTANTS

from harness.servers import init_database, scratch_database  # noqa: E402
from service.storage.models import db

from .support import (
    ACME_CHECK,
    ACME_OWNER,
    ADMIN,
    PG_ADMIN_URL,
    Caller,
    close_connections,
    fresh_database,
    make_app,
)


@pytest.fixture(autouse=True)
def _connections_closed_after_each_test():
    yield
    close_connections()


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh database for this test session on the local PostgreSQL server."""
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
        if os.environ.get("AUTHZ_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here but did not answer: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    name = f"authz_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_url(postgres_url):
    """A fresh, seeded database of its own (the session one is shared by in-process tests)."""
    with scratch_database("authz_prop") as url:
        init_database(url)
        yield url


def pytest_generate_tests(metafunc):
    """Storage tests (marked `storage`) run on SQLite and on PostgreSQL; the rest, the HTTP
    contract, on SQLite alone (the storage they reach is the same code either way)."""
    if "database_url" in metafunc.fixturenames:
        backends = ["sqlite"]
        if metafunc.definition.get_closest_marker("storage") is not None:
            backends.append(pytest.param("postgresql", marks=pytest.mark.postgres))
        metafunc.parametrize("database_url", backends, indirect=True)


@pytest.fixture
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'authz.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory):
    """A SQLite file migrated and seeded once: each SQLite test starts from a copy (making
    it again, migrations and all, was most of a test's time)."""
    path = tmp_path_factory.mktemp("template") / "seeded.db"
    template = make_app(f"sqlite:///{path}")
    fresh_database(template)
    with template.app_context():
        db.engine.dispose()
    return path


@pytest.fixture
def app(database_url, request):
    if database_url.startswith("sqlite:///"):
        shutil.copyfile(request.getfixturevalue("seeded_sqlite"),
                        database_url[len("sqlite:///"):])
        app = make_app(database_url)
    else:
        app = make_app(database_url)
        fresh_database(app)
    ctx = app.app_context()
    ctx.push()
    yield app
    db.session.remove()
    ctx.pop()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def owner(client):
    return Caller(client, ACME_OWNER, "acme")


@pytest.fixture
def checker(client):
    return Caller(client, ACME_CHECK, "acme")


@pytest.fixture
def admin(client):
    return Caller(client, ADMIN)


@pytest.fixture
def blank_app(database_url):
    app = make_app(database_url)
    fresh_database(app, seed=False)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
