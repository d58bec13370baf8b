"""The desktop reaches the engine only through its facade, and never the keyring."""
from __future__ import annotations

import ast
from pathlib import Path

import desktop

FACADE = {"engine.api", "engine.models", "engine.errors", "engine.events"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.update(f"{node.module}.{a.name}" if node.module == "engine" else node.module
                         for a in node.names)
    return names


def test_desktop_imports_only_the_engine_facade() -> None:
    wrong = {}
    for path in sorted(Path(desktop.__file__).parent.rglob("*.py")):
        bad = {n for n in _imports(path)
               if (n.split(".")[0] == "engine" and n not in FACADE)
               or n.split(".")[0] == "keyring"}
        if bad:
            wrong[str(path.relative_to(Path(desktop.__file__).parent))] = sorted(bad)
    assert wrong == {}
