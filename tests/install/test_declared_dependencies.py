"""Every third-party module agentdeck imports comes from a distribution pyproject.toml
declares: an installed wheel pulls in only what [project].dependencies names, so an
undeclared import works here (the venv happens to have it) and fails for a user."""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "agentdeck"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_normal(re.split(r"[ <>=!~;\[]", dep, maxsplit=1)[0]) for dep in project["dependencies"]}


def top_level_imports(source: str) -> set[str]:
    """The top-level names of the absolute imports in ``source``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


def third_party_imports() -> dict[str, list[str]]:
    """Each third-party module imported by agentdeck's code, with the files importing it.
    The sample project under resources/ is the user's code, not ours."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "resources" in path.relative_to(PACKAGE).parts:
            continue
        for name in top_level_imports(path.read_text()):
            if name != "agentdeck" and name not in sys.stdlib_module_names:
                found.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return found


def undeclared(imports: dict[str, list[str]], deps: set[str]) -> list[str]:
    providers = packages_distributions()
    return [f"{module} (imported by {files[0]}; from {providers.get(module, ['?'])})"
            for module, files in sorted(imports.items())
            if not deps & {_normal(dist) for dist in providers.get(module, [])}]


def test_every_third_party_import_is_declared() -> None:
    imports = third_party_imports()
    assert {"PySide6", "docker", "requests", "urllib3"} <= imports.keys()  # the scan sees them
    assert undeclared(imports, declared()) == []


def test_an_undeclared_import_is_reported() -> None:
    imports = {"requests": ["agentdeck/engine/runtimes/docker/pool.py"]}
    assert undeclared(imports, declared() - {"requests"}) != []
