"""The import contract (docs/ARCHITECTURE.md): layers point down, with no exceptions.

Every import in service/, at the top of a module or inside a function, is read from the
source and held to the table below. A new edge that points up or sideways fails here."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[2] / "service"

# layer -> the layers it may import (besides itself). The composition root
# (service/__init__.py: create_app) builds the parts and may import any layer.
MAY_IMPORT = {
    "config": set(),
    "domain": set(),
    "storage": {"domain", "config"},
    "runtime": {"storage", "domain", "config"},
    "usecases": {"runtime", "storage", "domain", "config"},
    "schemas": {"domain", "config"},
    "api": {"schemas", "usecases", "runtime", "domain", "config"},
    "console": {"schemas", "usecases", "domain", "config"},
    "startup": {"schemas", "usecases", "runtime", "storage", "domain", "config"},
    "migrations": {"storage", "config"},
    "worker": {"api"},  # gunicorn's worker class: the ASGI app, imported in the worker
    "root": {"config", "domain", "storage", "runtime", "usecases", "schemas", "api",
             "console", "startup", "migrations"},
}
# Third-party packages a layer must not use: the domain is plain Python; the service
# layer and the schemas know nothing of HTTP.
REFUSED = {
    "domain": {"flask", "flask_smorest", "flask_sqlalchemy", "sqlalchemy", "marshmallow",
               "werkzeug", "redis", "psycopg"},
    "usecases": {"flask", "flask_smorest", "werkzeug", "marshmallow"},
    "schemas": {"flask", "flask_smorest", "werkzeug", "sqlalchemy"},
    "storage": {"flask_smorest", "marshmallow", "werkzeug"},
    "runtime": {"flask_smorest", "marshmallow"},
}


def _layer(path: Path) -> str:
    parts = path.relative_to(SERVICE).parts
    if parts == ("__init__.py",):
        return "root"
    return parts[0].removesuffix(".py")


def _modules() -> list[Path]:
    return sorted(SERVICE.rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    return _imports_in(path.read_text(), ["service", *path.relative_to(SERVICE).parent.parts])


def _imports_in(source: str, package: list[str]) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in `source`, a module of `package`, relative
    ones resolved."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:  # from . import a, b: each is a module
                    found += [(node.lineno, f"{module}.{a.name}") for a in node.names]
                    continue
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


def _target_layer(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "service":
        return None
    if len(parts) == 1:
        return "root"
    return parts[1]


def test_every_module_is_in_a_known_layer():
    assert {_layer(p) for p in _modules()} <= set(MAY_IMPORT)


def _wrong(layer: str, imports: list[tuple[int, str]]) -> list[str]:
    wrong = []
    for line, name in imports:
        target = _target_layer(name)
        if target is not None and target != layer and target not in MAY_IMPORT[layer]:
            wrong.append(f"{line}: {name}")
        if target is None and name.split(".")[0] in REFUSED.get(layer, ()):
            wrong.append(f"{line}: {name}")
    return wrong


@pytest.mark.parametrize("layer", sorted(MAY_IMPORT))
def test_imports_point_down(layer):
    wrong = [f"{path.relative_to(SERVICE.parent)}:{found}" for path in _modules()
             if _layer(path) == layer for found in _wrong(layer, _imports(path))]
    assert not wrong, "imports that break the layers:\n" + "\n".join(wrong)


@pytest.mark.parametrize(("layer", "package", "source"), [
    ("runtime", ["service", "runtime"], "def f():\n    from ..usecases import expiry\n"),
    ("console", ["service", "console"], "from ..api import errors\n"),
    ("usecases", ["service", "usecases"], "from flask import request\n"),
    ("domain", ["service", "domain"], "import sqlalchemy.orm\n"),
    ("storage", ["service", "storage"], "from service.runtime.replica import Replica\n"),
])
def test_the_contract_sees_an_import_up_sideways_or_refused(layer, package, source):
    assert _wrong(layer, _imports_in(source, package)) != []


def test_configuration_is_a_leaf():
    assert [name for _, name in _imports(SERVICE / "config.py")
            if name.startswith("service")] == []


def test_a_one_letter_alias_names_one_module():
    """`import ... as A` means the same module wherever it is written."""
    meaning = defaultdict(set)
    for path in _modules():
        package = ["service", *path.relative_to(SERVICE).parent.parts]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            for alias in node.names:
                if alias.asname and len(alias.asname) == 1:
                    base = package[:len(package) - node.level + 1] if node.level else []
                    module = ".".join(base + ([node.module] if node.module else []))
                    meaning[alias.asname].add(f"{module}.{alias.name}")
    assert {a: m for a, m in meaning.items() if len(m) > 1} == {}


def test_no_test_imports_the_benchmarks():
    """tests/ and bench/ share harness/ (servers, random policies, measures), never each
    other: a benchmark can change without a test noticing, and the reverse."""
    tests = SERVICE.parent / "tests"
    found = [f"{path.relative_to(SERVICE.parent)}: {name}" for path in sorted(tests.rglob("*.py"))
             for name in (n for _, n in _imports_in(path.read_text(), ["tests"]))
             if name == "bench" or name.startswith("bench.")]
    assert found == []
