"""Local task prepare against `git worktree add`, on the 50 000-file scale repo, one run.

Prints one JSON line: for ``ROUNDS`` interleaved rounds on the same base commit, the
median seconds of `Workspace.prepare` (a task copy: checkout, stat manifest, inner repo
borrowing the objects) and of ``git worktree add --detach`` (reference), and the disk each
takes (allocated blocks, each inode once: the copy, its index and manifest against the
worktree and its ``.git/worktrees/<name>`` dir); ``time_ratio`` / ``disk_ratio`` (goal:
≤ 1.2 each). ``FILES`` in the environment makes a smaller repo for a quick look.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentdeck.engine.workspace.space import tree_bytes  # noqa: E402
from agentdeck.engine.workspace.workspace import Workspace  # noqa: E402
from benchmarks.scale_repo import FILES, make_scale_repo  # noqa: E402

ROUNDS = 3
GOAL = 1.2


def _timed(fn) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def main() -> None:
    files = int(os.environ.get("FILES", FILES))
    with tempfile.TemporaryDirectory(prefix="local-prepare-", dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        repo = make_scale_repo(root / "repo", files=files)
        ws = Workspace(root / "home")
        base = ws.snapshot("warm", repo)
        ws.prepare("warm", repo, base)  # the private dir exists, as for every later task
        prepare, worktree, copy_disk, tree_disk = [], [], [], []
        for n in range(ROUNDS):
            task = f"t{n}"
            prepare.append(_timed(lambda: ws.prepare(task, repo, base)))
            copy_disk.append(ws.task_bytes(task, set()))
            tree = root / f"wt{n}"
            worktree.append(_timed(lambda: subprocess.run(
                ["git", "-C", str(repo), "worktree", "add", "-q", "--detach", str(tree), base],
                check=True)))
            seen: set[tuple[int, int]] = set()
            tree_disk.append(tree_bytes(tree, seen)
                             + tree_bytes(repo / ".git" / "worktrees" / tree.name, seen))
            ws.discard(task)
            subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)],
                           check=True)
    t_prep, t_tree = statistics.median(prepare), statistics.median(worktree)
    d_copy, d_tree = statistics.median(copy_disk), statistics.median(tree_disk)
    print(json.dumps({
        "benchmark": "local_prepare", "files": files, "rounds": ROUNDS,
        "prepare_s": round(t_prep, 3), "worktree_s": round(t_tree, 3),
        "prepare_mb": round(d_copy / 2**20, 1), "worktree_mb": round(d_tree / 2**20, 1),
        "time_ratio": round(t_prep / t_tree, 3), "disk_ratio": round(d_copy / d_tree, 3),
        "goal": GOAL, "time_goal_met": t_prep / t_tree <= GOAL,
        "disk_goal_met": d_copy / d_tree <= GOAL,
        "samples_s": {"prepare": [round(x, 3) for x in prepare],
                      "worktree": [round(x, 3) for x in worktree]},
    }))


if __name__ == "__main__":
    main()
