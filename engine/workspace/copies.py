"""Snapshots of the user's repo and the per-task working copies built from them."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from engine.gitcmd import Git
from engine.workspace.repo import ENGINE_IDENTITY, UserRepo, remove_tree

INNER_BRANCH = "main"


def commit_worktree(repo: UserRepo, private: Git, head: str, task_id: str) -> str:
    """Commit HEAD + every tracked change + untracked, non-ignored files, without touching
    the user's index, working tree, refs or object store.

    A copy of the user's index (for its stat cache) becomes a temporary GIT_INDEX_FILE,
    and new objects go to the private object dir, which borrows the user's objects.

    Returns:
        The snapshot commit (its parent is ``head``), or ``head`` itself when the tree
        is clean.
    """
    assert private.git_dir is not None
    with tempfile.TemporaryDirectory(dir=private.git_dir, prefix="snapshot-") as tmp:
        index = Path(tmp) / "index"
        user_index = repo.git_dir / "index"
        # A split index would make git write a new shared index into the user's .git.
        git = repo.git.with_config("core.splitIndex=false").with_env(
            GIT_INDEX_FILE=index, GIT_OBJECT_DIRECTORY=private.git_dir / "objects")
        if user_index.is_file():
            shutil.copyfile(user_index, index)
        else:
            git.run("read-tree", head)
        git.run("add", "-A")
        tree = git.out("write-tree")
        if tree == git.out("rev-parse", f"{head}^{{tree}}"):
            return head
        message = f"agentdeck: snapshot of uncommitted work for task {task_id}"
        return private.with_env(**ENGINE_IDENTITY).out("commit-tree", tree, "-p", head, "-m", message)


def build_working_copy(private: Git, base: str, workdir: Path, index: Path) -> None:
    """Fill a fresh ``workdir`` with the files of ``base`` plus a disposable inner ``.git``.

    The checkout goes through the private git dir with ``index`` as its index, so the
    later capture only rehashes files whose stat changed. The inner repo exists for
    agents that insist on one (codex, aider); the engine never reads it.
    """
    remove_tree(workdir)
    workdir.mkdir(parents=True)
    index.parent.mkdir(parents=True, exist_ok=True)
    index.unlink(missing_ok=True)
    checkout = Git(git_dir=private.git_dir, work_tree=workdir, cwd=workdir).with_env(
        GIT_INDEX_FILE=index)
    checkout.run("read-tree", "--reset", "-u", base)
    _init_inner_repo(private, base, workdir, index)


def _init_inner_repo(private: Git, base: str, workdir: Path, index: Path) -> None:
    inner = Git(git_dir=workdir / ".git", work_tree=workdir, cwd=workdir)
    Git(cwd=workdir).run("init", "-q", "--template=", f"--initial-branch={INNER_BRANCH}", ".")
    tree = private.out("rev-parse", f"{base}^{{tree}}")
    objects = private.run("rev-list", "--objects", tree).stdout
    # Only the base tree's objects, uncompressed-fast: this repo is thrown away later.
    with tempfile.TemporaryFile() as pack:
        private.run("pack-objects", "--stdout", "-q", "--window=0", input=objects, stdout=pack)
        pack.seek(0)
        inner.run("index-pack", "--stdin", stdin=pack)
    commit = inner.with_env(**ENGINE_IDENTITY).out(
        "commit-tree", tree, "-m", f"agentdeck: base {base}")
    inner.run("update-ref", f"refs/heads/{INNER_BRANCH}", commit)
    inner.run("config", "user.name", ENGINE_IDENTITY["GIT_AUTHOR_NAME"])
    inner.run("config", "user.email", ENGINE_IDENTITY["GIT_AUTHOR_EMAIL"])
    # Same entries, same stat data: `git status` in the copy starts clean and fast.
    shutil.copyfile(index, workdir / ".git" / "index")
