"""docs/ARCHITECTURE.md names only what exists: every `module.function`, `Class.method`,
file path and layer it cites in backticks is found in the code (issue 27: the document had
named a removed `Authz.decide`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
CITED = re.compile(r"`([^`\s]+)`")
# the one-letter aliases the code writes for modules (tests/unit/test_layers.py holds each
# to one module)
ALIASES = {"R": "rules", "A": "policy_admin", "S": "subaccounts", "W": "reasons",
           "Q": "access"}
DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


def _definitions() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """module name -> its top-level names; class name -> its attributes, over service/."""
    modules: dict[str, set[str]] = {}
    classes: dict[str, set[str]] = {}
    for path in (ROOT / "service").rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = modules.setdefault(path.stem if path.stem != "__init__" else path.parent.name,
                                   set())
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            if isinstance(node, ast.ClassDef):
                members = classes.setdefault(node.name, set())
                for item in ast.walk(node):
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        members.add(item.name)
                    elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        members.add(item.target.id)
                    elif isinstance(item, ast.Assign):  # an enum's members
                        members.update(t.id for t in item.targets if isinstance(t, ast.Name))
                    elif isinstance(item, ast.Attribute) and isinstance(item.value, ast.Name) \
                            and item.value.id == "self":
                        members.add(item.attr)
    return modules, classes


def _cited() -> list[str]:
    return sorted({m.group(1).rstrip(".,:;") for m in CITED.finditer(DOC)})


def test_every_cited_function_class_and_method_exists():
    modules, classes = _definitions()
    missing = []
    for name in _cited():
        if name.endswith(".py") or "/" in name or not DOTTED.fullmatch(name):
            continue
        head, _, attr = name.rpartition(".")
        head = head.rsplit(".", 1)[-1]  # `telemetry.RequestLog`, `config.Settings`
        head = ALIASES.get(head, head)
        known = modules.get(head, set()) | classes.get(head, set())
        if head not in modules and head not in classes or attr not in known:
            missing.append(name)
    assert missing == [], f"ARCHITECTURE.md names what the code does not have: {missing}"


def test_every_cited_file_exists():
    missing = []
    for name in _cited():
        if not name.endswith(".py"):
            continue
        path = name.split(".", 1)[0].replace(".", "/") + ".py" if "/" not in name else name
        if not any((base / path).exists() for base in (ROOT, ROOT / "service")):
            missing.append(name)
    assert missing == [], missing


def test_every_cited_class_and_constant_exists():
    modules, classes = _definitions()
    cited = _cited()
    assert sorted({n for n in cited if re.fullmatch(r"[A-Z][a-z]\w*", n)} - set(classes)) == []
    constants = set().union(*modules.values())
    assert sorted({n for n in cited if re.fullmatch(r"[A-Z][A-Z_]+", n)} - constants) == []


def test_the_layer_table_is_the_contract_the_tests_hold():
    from tests.unit.test_layers import MAY_IMPORT

    rows = re.findall(r"^\| `(\w+)` \| (.+) \|$", DOC, flags=re.M)
    table = {layer: set(re.findall(r"\b(?:config|domain|storage|runtime|usecases|schemas|api)\b",
                                   allowed)) for layer, allowed in rows}
    assert table == {layer: allowed for layer, allowed in MAY_IMPORT.items()
                     if layer not in ("root", "migrations")}
