"""Print the package map of agentdeck/ for docs/architecture.md, or check that it is current.

    python scripts/package_map.py            # the map, as Markdown
    python scripts/package_map.py --check    # exit 1 when docs/architecture.md's map is stale
    python scripts/package_map.py --write    # put the current map into docs/architecture.md

One row per package: its modules, the first sentence of its docstring, and the packages of
agentdeck it imports (read from the code with `ast`, type-checking-only imports left out, as
`lint-imports` does), so the map shows the arrows as they are, not as someone remembers them.
"""
from __future__ import annotations

import argparse
import ast
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "agentdeck"
DOC = ROOT / "docs" / "architecture.md"
START, END = "<!-- package-map:start -->", "<!-- package-map:end -->"
SKIP = ("agentdeck/resources",)
#: Packages shown as one row with their sub-packages folded in.
FOLD_BELOW = 4


def packages() -> list[Path]:
    found = []
    for init in sorted(PACKAGE.rglob("__init__.py")):
        folder = init.parent
        if not _skipped(folder) and len(folder.relative_to(ROOT).parts) <= FOLD_BELOW:
            found.append(folder)
    return found


def _skipped(path: Path) -> bool:
    return path.relative_to(ROOT).as_posix().startswith(SKIP)


def row_of(module: str, rows: list[str]) -> str | None:
    """The row (package name) that holds ``module``: its longest prefix among ``rows``."""
    best = None
    for name in rows:
        if (module == name or module.startswith(name + ".")) and (
                best is None or len(name) > len(best)):
            best = name
    return best


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(n) for node in ast.walk(tree) if _is_type_checking(node)
               for n in ast.walk(node)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return {n for n in names if n.startswith("agentdeck.")}


def _related(one: str, other: str) -> bool:
    """The same package, or one inside the other (a package's own arrows are not shown)."""
    return one == other or one.startswith(other + ".") or other.startswith(one + ".")


def _is_type_checking(node: ast.AST) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING")


def _summary(folder: Path) -> str:
    doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text(encoding="utf-8")))
    first = " ".join((doc or "").split("\n\n")[0].split()).split(". ")[0].rstrip(".")
    return first.replace("|", "\\|") or "(no docstring: say what it holds)"


def package_map() -> str:
    folders = packages()
    rows = [".".join(f.relative_to(ROOT).parts) for f in folders]
    lines = ["| package | modules | what it holds | imports from |", "|---|---|---|---|"]
    for folder, name in zip(folders, rows):
        mine = [p for p in folder.rglob("*.py") if not _skipped(p)
                and row_of(".".join(p.relative_to(ROOT).with_suffix("").parts), rows) == name]
        used = set()
        for path in mine:
            for module in _imports(path):
                target = row_of(module, rows)
                if target and not _related(target, name):
                    used.add(target)
        shown = ", ".join(f"`{u.removeprefix('agentdeck.')}`" for u in sorted(used)) or "—"
        lines.append(f"| `{folder.relative_to(ROOT).as_posix()}/` | {len(mine)} | "
                     f"{_summary(folder)} | {shown} |")
    return "\n".join(lines) + "\n\n" + _rules()


def _rules() -> str:
    """The import contracts `lint-imports` checks (pyproject.toml), one line each."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    return "Checked by `lint-imports` in `make test`:\n\n" + "".join(
        f"- {c['name']}\n" for c in contracts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="fail when the map in docs/architecture.md is not current")
    mode.add_argument("--write", action="store_true",
                      help="put the current map into docs/architecture.md")
    args = parser.parse_args(argv)
    current = package_map()
    if not (args.check or args.write):
        sys.stdout.write(current)
        return 0
    text = DOC.read_text(encoding="utf-8")
    before, rest = text.split(START, 1)
    shown, after = rest.split(END, 1)
    if args.write:
        DOC.write_text(f"{before}{START}\n{current}{END}{after}", encoding="utf-8")
        return 0
    if shown.strip("\n") + "\n" != current:
        print(f"{DOC}: the package map is stale; run "
              "python scripts/package_map.py --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
