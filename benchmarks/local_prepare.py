"""Local task prepare against `git worktree add`, on the 50 000-file scale repo, one run.

Prints one JSON line: for ``ROUNDS`` interleaved rounds on the same base commit, the
median seconds of `Workspace.prepare` (a task copy: checkout, stat manifest, inner repo
borrowing the objects) and of ``git worktree add --detach`` (reference), and the disk each
takes (allocated blocks, each inode once: the copy, its index and manifest against the
worktree and its ``.git/worktrees/<name>`` dir); ``time_ratio`` / ``disk_ratio`` (goal:
≤ 1.2 each). ``FILES`` in the environment makes a smaller repo for a quick look.

Run as root, the same again under ``reflink`` on a btrfs loop filesystem (made for the
run), where a copy is a reflink clone of its base's template (the warm-up task made it):
the same repo, the reference ``git worktree add`` on that filesystem too, and disk as the
filesystem's used bytes before and after each (``du`` counts shared blocks in full).
``first_status_in_copy_s``: the first ``git status`` in a copy (its index must match).
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
from tests import loopfs  # noqa: E402

ROUNDS = 3
GOAL = 1.2
BTRFS_SIZE = "4G"  # sparse: the repo, its template, a copy and a worktree at a time


def _timed(fn) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def _used_bytes(folder: Path) -> int:
    """Bytes the filesystem of ``folder`` has in use, once its pending writes are done."""
    os.sync()
    st = os.statvfs(folder)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def _measure(root: Path, files: int, *, by_df: bool) -> dict:
    """Prepare against ``git worktree add`` in ``root``, on one filesystem.

    Args:
        by_df: Disk taken as the filesystem's used bytes before and after (what reflink
            clones really take); otherwise allocated blocks (`tree_bytes`).
    """
    repo = make_scale_repo(root / "repo", files=files)
    ws = Workspace(root / "home")
    base = ws.snapshot("warm", repo)
    ws.prepare("warm", repo, base)  # the private dir (and a template) exists, as for later tasks
    prepare, worktree, copy_disk, tree_disk = [], [], [], []
    for n in range(ROUNDS):
        task = f"t{n}"
        used = _used_bytes(root)
        prepare.append(_timed(lambda: ws.prepare(task, repo, base)))
        copy_disk.append(_used_bytes(root) - used if by_df else ws.task_bytes(task, set()))
        tree = root / f"wt{n}"
        used = _used_bytes(root)
        worktree.append(_timed(lambda: subprocess.run(
            ["git", "-C", str(repo), "worktree", "add", "-q", "--detach", str(tree), base],
            check=True)))
        seen: set[tuple[int, int]] = set()
        tree_disk.append(_used_bytes(root) - used if by_df else tree_bytes(tree, seen)
                         + tree_bytes(repo / ".git" / "worktrees" / tree.name, seen))
        ws.discard(task)
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)],
                       check=True)
    status = _timed(lambda: subprocess.run(["git", "-C", str(ws.workdir("warm")), "status",
                                            "--porcelain"], check=True, capture_output=True))
    t_prep, t_tree = statistics.median(prepare), statistics.median(worktree)
    d_copy, d_tree = statistics.median(copy_disk), statistics.median(tree_disk)
    return {
        "prepare_s": round(t_prep, 3), "worktree_s": round(t_tree, 3),
        "prepare_mb": round(d_copy / 2**20, 1), "worktree_mb": round(d_tree / 2**20, 1),
        "time_ratio": round(t_prep / t_tree, 3), "disk_ratio": round(d_copy / d_tree, 3),
        "time_goal_met": t_prep / t_tree <= GOAL, "disk_goal_met": d_copy / d_tree <= GOAL,
        "first_status_in_copy_s": round(status, 3),
        "samples_s": {"prepare": [round(x, 3) for x in prepare],
                      "worktree": [round(x, 3) for x in worktree]},
    }


def main() -> None:
    files = int(os.environ.get("FILES", FILES))
    result = {"benchmark": "local_prepare", "files": files, "rounds": ROUNDS, "goal": GOAL,
              "load_avg_1m": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="local-prepare-", dir=os.environ.get("BENCH_DIR")) as tmp:
        result |= _measure(Path(tmp), files, by_df=False)
        reason = loopfs.unavailable()
        if reason:
            result["reflink"] = {"skipped": reason}
        else:
            with loopfs.btrfs(Path(tmp) / "btrfs.img", size=BTRFS_SIZE) as mount:
                result["reflink"] = {"fs": "btrfs (loop)", **_measure(mount, files, by_df=True)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
