"""The shape of the code, read with ast (no import runs): dependencies point one way, the
segmentation engine stays pure, no module needs itself through a cycle of imports, and every
feature registers its routes the same way."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crm", "partners", "segmentation")
# The composition roots: the only crm modules that may name partners (by import or by string).
# crm.features lists the features (partners' too) that the app factory, the command line and
# the scheduler take; migrations/env.py (outside crm) imports partners.models for the metadata.
COMPOSITION_ROOTS = {"crm/features.py", "crm/app.py"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Nodes under ``if TYPE_CHECKING:`` (never imported at run time)."""
    return {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for stmt in branch.body
        for node in ast.walk(stmt)
    }


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every import that runs, at module level or inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_only(tree)
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package
                package = (
                    module.split(".")[: -node.level]
                    if path.name != "__init__.py"
                    else module.split(".")[: len(module.split(".")) - node.level]
                )
                base = ".".join([*package, *([node.module] if node.module else [])])
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _ours(name: str) -> str | None:
    """The module of ours that ``name`` (a module, or a name in one) is, if any."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _top(name: str) -> str:
    return name.split(".")[0]


def test_crm_reaches_partners_only_through_its_interfaces():
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for module, path in MODULES.items()
        if _top(module) == "crm" and str(path.relative_to(ROOT)) not in COMPOSITION_ROOTS
        for line, name in imports(path)
        if _top(name) == "partners"
    ]
    assert offending == []


def test_segmentation_is_pure():
    """DataFrames in, DataFrames out: no web framework, no database, nothing of the app's."""
    forbidden = ("flask", "werkzeug", "jinja2", "sqlalchemy", "alembic", "psycopg", "redis", "crm", "partners")
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for module, path in MODULES.items()
        if _top(module) == "segmentation"
        for line, name in imports(path)
        if _top(name).startswith(forbidden)
    ]
    assert offending == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        targets = {_ours(name) for _, name in imports(path)}
        graph[module] = {t for t in targets if t and t != module}
    return graph


def test_no_import_cycles():
    """Imports inside functions count too: they only hide a cycle until the function runs."""
    assert _cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _defines_routes(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Attribute)
        and node.attr in ("route", "get", "post")
        and isinstance(node.value, ast.Name)
        and node.value.id == "bp"
        for node in ast.walk(tree)
    )


def test_every_feature_defines_its_blueprint_in_its_package_and_routes_in_views_modules():
    from crm import features

    for package in features.FEATURES:
        init = MODULES[package]
        assert "Blueprint(" in init.read_text(encoding="utf-8"), f"{package} defines no blueprint in __init__.py"
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Blueprint"
        ]
        if calls:
            assert path.name == "__init__.py", f"{module} makes a Blueprint outside its package's __init__.py"
        if _defines_routes(tree) and module != "partners.api":  # the partner API is its own module
            assert path.stem == "views" or path.stem.startswith("views_"), f"{module} has routes"
            assert module in features.VIEWS, f"{module} is not in crm.features.VIEWS"


def test_no_module_imports_at_its_bottom():
    """Imports come first: a module-level import after a function or class hides a cycle or
    registers routes as a side effect."""
    late = []
    for path in MODULES.values():
        seen_definition = False
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                seen_definition = True
            elif isinstance(node, (ast.Import, ast.ImportFrom)) and seen_definition:
                late.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert late == []


def test_the_benefits_refuse_to_run_without_the_partners_registered(database, monkeypatch):
    """crm reaches partners through crm.benefits.partner_port only; with nothing registered
    there (partners never imported), a benefit that needs them fails loudly."""
    import pytest

    from crm.benefits import coupons, partner_port

    with database.session() as s:
        assert coupons.active_partners(s) == []  # the app imported partners, which registered
        monkeypatch.setattr(partner_port, "_registered", None)
        with pytest.raises(RuntimeError, match="partners"):
            coupons.active_partners(s)
