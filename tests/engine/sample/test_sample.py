"""The sample project and the demo batch: every demo script really does its job."""
import ast
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agentdeck.engine.batch.file import TaskSpec, parse_batch_file
from agentdeck.engine.errors import RepoError
from agentdeck.engine.config.resources import resource_path
from agentdeck.engine.sample.repo import ensure_sample_repo

FAILING = "Switch tax computation to the v2 tax tables"
# The scripts run python3 from PATH: put this interpreter (which has pytest) first, and
# keep the sample's test runs free of this project's pytest plugins.
SCRIPT_ENV = {
    **os.environ,
    "DEMO_PACE": "0",
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          check=True).stdout


def python_files(repo: Path) -> list[Path]:
    return sorted(path for path in repo.rglob("*.py") if ".git" not in path.parts)


def run_sample_tests(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=repo, env=SCRIPT_ENV, capture_output=True, text=True)


def run_task(task: TaskSpec, repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", task.prompt], cwd=repo, env=SCRIPT_ENV,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def demo_tasks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TaskSpec]:
    spec = parse_batch_file(resource_path("demo_batch.toml"),
                            default_repo=tmp_path_factory.mktemp("any"))
    return {task.title: task for task in spec.tasks}


def test_ensure_sample_repo_makes_one_commit(tmp_path: Path) -> None:
    repo = ensure_sample_repo(tmp_path / "data" / "sample")
    assert repo == (tmp_path / "data" / "sample").resolve()
    assert git(repo, "log", "--format=%an <%ae>|%s").splitlines() == [
        "agentdeck <agentdeck@localhost>|Sample project: inventory 0.3.0"]
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "branch", "--show-current").strip() == "main"
    tracked = git(repo, "ls-files").split()
    assert {"README.md", "pyproject.toml", "inventory/models.py", "tests/test_pricing.py"} <= set(
        tracked)
    assert not any("__pycache__" in name for name in tracked)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["sample"]  # no scratch left


def test_ensure_sample_repo_keeps_an_existing_repo(tmp_path: Path) -> None:
    repo = ensure_sample_repo(tmp_path / "sample")
    (repo / "mine.txt").write_text("work in progress")
    head = git(repo, "rev-parse", "HEAD")
    assert ensure_sample_repo(repo) == repo
    assert git(repo, "rev-parse", "HEAD") == head
    assert (repo / "mine.txt").read_text() == "work in progress"


def test_ensure_sample_repo_fills_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert (ensure_sample_repo(tmp_path / "empty") / "inventory" / "cli.py").is_file()


def test_ensure_sample_repo_refuses_a_folder_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(RepoError, match=r"busy exists but is not a git repo; move it away"):
        ensure_sample_repo(tmp_path / "busy")
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == ["notes.txt"]


def test_sample_has_the_debts_the_demo_fixes_and_its_tests_pass(tmp_path: Path) -> None:
    repo = ensure_sample_repo(tmp_path / "sample")
    texts = {path.name: path.read_text() for path in python_files(repo)}
    assert "\t" in texts["utils.py"]
    assert any(line != line.rstrip() for text in texts.values() for line in text.splitlines())
    assert sum("reciept" in text.lower() for text in texts.values()) >= 4
    assert 'print("DEBUG' in texts["cli.py"] and "TODO" in texts["storage.py"]
    done = run_sample_tests(repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 passed" in done.stdout


def _reports_use_fstrings(repo: Path) -> None:
    tree = ast.parse((repo / "inventory/reports.py").read_text())
    assert not [node for node in ast.walk(tree)
                if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod)]
    assert any(isinstance(node, ast.JoinedStr) for node in ast.walk(tree))


def _no_misspelling(repo: Path) -> None:
    assert not [p for p in python_files(repo) if "reciept" in p.read_text().lower()]
    assert "class Receipt:" in (repo / "inventory/models.py").read_text()


def _clean_whitespace(repo: Path) -> None:
    for path in python_files(repo):
        lines = path.read_text().splitlines()
        assert [line for line in lines if line != line.rstrip() or "\t" in line] == [], path
    assert "\n    return int(text)\n" in (repo / "inventory/utils.py").read_text()


def _changelog(repo: Path) -> None:
    assert (repo / "CHANGELOG.md").is_file()
    text = (repo / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n\n## 0.3.0 - ")
    assert "- The stock report lists the items that are running low." in text


def _docstrings(repo: Path) -> None:
    for path in sorted((repo / "inventory").glob("*.py")):
        assert ast.get_docstring(ast.parse(path.read_text())), path
    assert (repo / "inventory/pricing.py").read_text().startswith('"""Prices: ')


def _no_debug_prints(repo: Path) -> None:
    assert not [p for p in python_files(repo) if 'print("DEBUG' in p.read_text()]


def _typed_pricing(repo: Path) -> None:
    tree = ast.parse((repo / "inventory/pricing.py").read_text())
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert len(functions) == 4
    assert all(arg.annotation for node in functions for arg in node.args.args)


CHECKS: dict[str, Callable[[Path], None]] = {
    "Convert % formatting to f-strings in reports.py": _reports_use_fstrings,
    "Fix the misspelled name 'reciept' everywhere": _no_misspelling,
    "Clean up whitespace: trailing spaces and tab indentation": _clean_whitespace,
    "Add a CHANGELOG entry for this version": _changelog,
    "Add module docstrings where they are missing": _docstrings,
    "Remove leftover debugging prints": _no_debug_prints,
    "Add type hints to pricing.py": _typed_pricing,
}


def test_every_demo_task_has_a_check(demo_tasks: dict[str, TaskSpec]) -> None:
    assert set(demo_tasks) == set(CHECKS) | {FAILING}


@pytest.mark.parametrize("title", sorted(CHECKS))
def test_demo_task_does_what_it_says(title: str, demo_tasks: dict[str, TaskSpec],
                                     tmp_path: Path) -> None:
    repo = ensure_sample_repo(tmp_path / "sample")
    with pytest.raises(AssertionError):
        CHECKS[title](repo)  # not already true before the task runs
    done = run_task(demo_tasks[title], repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(done.stdout.splitlines()) >= 3  # it tells what it does
    CHECKS[title](repo)
    assert git(repo, "status", "--porcelain", "--ignored") != ""
    tests = run_sample_tests(repo)
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_the_failing_demo_task_explains_itself(demo_tasks: dict[str, TaskSpec],
                                               tmp_path: Path) -> None:
    repo = ensure_sample_repo(tmp_path / "sample")
    done = run_task(demo_tasks[FAILING], repo)
    assert done.returncode == 3
    assert "error: inventory/tax_tables_v2.json not found" in done.stderr
    assert "fails on purpose" in done.stderr
    assert git(repo, "status", "--porcelain", "--ignored") == ""


def test_all_demo_changes_can_be_accepted_together(demo_tasks: dict[str, TaskSpec],
                                                   tmp_path: Path) -> None:
    patches = []
    for index, title in enumerate(sorted(CHECKS)):
        repo = ensure_sample_repo(tmp_path / f"task{index}")
        assert run_task(demo_tasks[title], repo).returncode == 0
        git(repo, "add", "-A")
        patches.append(tmp_path / f"task{index}.patch")
        patches[-1].write_text(git(repo, "diff", "--cached", "--binary"))
    combined = ensure_sample_repo(tmp_path / "all")
    for patch in patches:
        git(combined, "apply", "--3way", str(patch))
    for check in CHECKS.values():
        check(combined)
    tests = run_sample_tests(combined)
    assert tests.returncode == 0, tests.stdout + tests.stderr
