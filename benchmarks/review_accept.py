"""How long accepting a 500-file change takes, against ``git apply --index`` + ``git commit``
of the same patch, in the same run.

A real git repo gets 500 Python files; a real task (the shell agent, local runtime)
changes every third function of each (25 hunks a file, 12 500 lines). Measured: from
`Engine.accept` called to its commit returned (checks, merge base, objects copied in,
index and files updated, HEAD moved, the review stored, the working copy removed). The
reference on the same patch: ``git apply --index`` then ``git commit`` as subprocesses in a
clone at the same base. Each run uses a fresh clone for both sides; runs are interleaved,
best of RUNS each. Prints one JSON line; goal: ratio <= 1.5.

Run: .venv/bin/python benchmarks/review_accept.py
"""
from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from agentdeck.engine.api import Engine

FILES, FUNCTIONS, RUNS = 500, 75, 5
GIT = ["git", "-c", "core.hooksPath=/dev/null", "-c", "user.name=b", "-c", "user.email=b@b"]
# Every third function's return line (lines 5, 14, 23, ... of a module) changes.
EDIT = "sed -i -e '5~9s/ + / * 2 + /' pkg*/module_*.py"


def _module(number: int) -> str:
    lines = [f'"""Module {number}."""', "import os", ""]
    for i in range(FUNCTIONS):
        lines += [f"def function_{i}(value_{i}: int) -> int:", f"    return value_{i} + {i}", ""]
    return "\n".join(lines) + "\n"


def make_repo(root: Path) -> Path:
    """The base repo: 500 modules in 20 folders, one commit."""
    subprocess.run([*GIT, "init", "-q", "-b", "main", str(root)], check=True)
    for number in range(FILES):
        path = root / f"pkg{number % 20}" / f"module_{number}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text(_module(number))
    subprocess.run([*GIT, "add", "-A"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-qm", "base"], cwd=root, check=True)
    return root


def clone(source: Path, target: Path) -> Path:
    subprocess.run([*GIT, "clone", "-q", str(source), str(target)], check=True)
    for key, value in (("user.name", "b"), ("user.email", "b@b")):
        subprocess.run(["git", "-C", str(target), "config", key, value], check=True)
    return target


async def finished_task(engine: Engine, repo: Path) -> str:
    task = await engine.submit(repo, EDIT, runtime="local")
    while not (await engine.get_task(task.id)).state.is_terminal:
        await asyncio.sleep(0.1)
    done = await engine.get_task(task.id)
    if done.state.value != "succeeded":
        raise SystemExit(f"the benchmark task failed: {done.error}")
    return done.id


def git_apply_and_commit(repo: Path, patch: Path) -> float:
    """Seconds for ``git apply --index`` + ``git commit`` of ``patch`` in ``repo``."""
    start = time.perf_counter()
    subprocess.run([*GIT, "apply", "--index", str(patch)], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "reference"], cwd=repo, check=True)
    return time.perf_counter() - start


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = make_repo(root / "base")
        engine = await Engine.open(root / "home", default_runtime="local")
        try:
            tasks = [(n, await finished_task(engine, clone(base, root / f"task{n}")))
                     for n in range(RUNS)]
            patch = root / "change.patch"
            patch.write_text(text := await engine.get_patch(tasks[0][1]))
            changed = sum(1 for line in text.splitlines()
                          if line[:1] in "+-" and not line.startswith(("+++", "---")))
            accepts, references = [], []
            for n, task_id in tasks:  # interleaved: a burst of load hits both sides alike
                references.append(git_apply_and_commit(clone(base, root / f"ref{n}"), patch))
                start = time.perf_counter()
                await engine.accept(task_id)
                accepts.append(time.perf_counter() - start)
        finally:
            await engine.close()
    accept_ms, git_ms = min(accepts) * 1000, min(references) * 1000
    print(json.dumps({
        "benchmark": "review_accept", "files": FILES, "changed_lines": changed, "runs": RUNS,
        "accept_ms": round(accept_ms, 1),
        "accept_median_ms": round(statistics.median(accepts) * 1000, 1),
        "git_apply_commit_ms": round(git_ms, 1),
        "git_median_ms": round(statistics.median(references) * 1000, 1),
        "ratio": round(accept_ms / git_ms, 3), "goal_ratio": 1.5,
        "goal_met": accept_ms / git_ms <= 1.5,
    }))


if __name__ == "__main__":
    asyncio.run(main())
