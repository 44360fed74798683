"""The package's shape, checked from its source: imports run one way, no module reaches into
another's private names, and one module writes the SQL on the sessions table.

Read with ``ast``, not by importing, so an import inside a function counts as much as one at
the top; imports under ``if TYPE_CHECKING:`` do not (they never run).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "graphflow_sessions"
NAME = PACKAGE.name

# Documented APIs spelled with an underscore: Django's model API, an Enum member's value.
DOCUMENTED = {"_meta", "_state", "_default_manager", "_base_manager", "_value_"}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node, leaving out the bodies of ``if TYPE_CHECKING:``."""
    out: list[ast.AST] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        out.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                stack.extend(child.orelse)
                continue
            stack.append(child)
    return out


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that module ``name`` imports (a package's own __init__ that is
    only passed through on the way to a submodule is not counted)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import sub`` imports the submodule; ``from mod import name`` the module.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_checker_finds_a_cycle_when_there_is_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_package() -> None:
    graph = import_graph()
    assert f"{NAME}.storage.database" in graph  # the walk found the package
    assert f"{NAME}.contract.types" in graph[f"{NAME}.contract.codec"]
    assert cycles(graph) == []


def test_the_contract_imports_nothing_of_django_or_the_storage() -> None:
    for name, path in modules().items():
        if not name.startswith(f"{NAME}.contract"):
            continue
        text = path.read_text()
        assert "django" not in text.replace("Django", ""), name
        assert not imports_of(name, path, modules()) - {
            m for m in modules() if m.startswith(f"{NAME}.contract") or m == f"{NAME}.exceptions"
        }, name


def private_names_defined(tree: ast.AST) -> set[str]:
    """The underscore names a module defines itself: functions, classes, attributes it
    assigns (``x._name = ...``), slots and class-level names."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.fullmatch(r"_[A-Za-z]\w*", node.value)  # __slots__ entries
        ):
            names.add(node.value)
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


def foreign_private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    own = private_names_defined(tree)
    problems = []
    for node in _nodes(tree):
        if isinstance(node, ast.Attribute):
            attr = node.attr
            if (
                attr.startswith("_")
                and not attr.startswith("__")
                and attr not in own
                and attr not in DOCUMENTED
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                problems.append(f"{path.name}:{node.lineno}: .{attr}")
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    problems.append(f"{path.name}:{node.lineno}: import {alias.name}")
    return problems


def test_the_private_name_checker_sees_a_foreign_one() -> None:
    sample = PACKAGE.parent / "tests" / "package" / "_sample_module_for_test.py"
    try:
        sample.write_text("import psycopg\n\ndef f(conn):\n    return conn._prepared._names\n")
        assert foreign_private_uses(sample) == [
            "_sample_module_for_test.py:4: ._names",
            "_sample_module_for_test.py:4: ._prepared",
        ]
    finally:
        sample.unlink()


def test_no_module_uses_another_modules_private_names() -> None:
    problems = [p for path in modules().values() for p in foreign_private_uses(path)]
    assert problems == []


# Hand-written SQL naming the sessions table, outside the module that builds it.
_TABLE_SQL = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\s+\"?sessions\b", re.IGNORECASE)


def code_strings(tree: ast.AST) -> list[str]:
    """The string literals of a module that are not docstrings (which may quote SQL)."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_the_sql_checker_sees_a_table_name_in_code_not_in_docs() -> None:
    tree = ast.parse('"""ALTER TABLE sessions in prose."""\nSQL = f"DELETE FROM sessions {x}"\n')
    assert [text for text in code_strings(tree) if _TABLE_SQL.search(text)] == [
        "DELETE FROM sessions "
    ]


def test_one_module_writes_the_sql_on_the_sessions_table() -> None:
    builder = PACKAGE / "storage" / "sql.py"
    assert "db_table" in builder.read_text()
    offenders = []
    for path in modules().values():
        if path == builder:
            continue
        text = path.read_text()
        written_out = any(_TABLE_SQL.search(s) for s in code_strings(ast.parse(text)))
        # SQL written out, or a table name quoted into SQL built here.
        if written_out or ("db_table" in text and "quote_name" in text):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []
