"""Snapshots of the user's repo and the per-task working copies built from them."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from agentdeck.engine.workspace.gitcmd import Git
from agentdeck.engine.workspace import safefs, sparse
from agentdeck.engine.workspace.capture import record_checkout, record_stats
from agentdeck.engine.workspace.seal import write_settings
from agentdeck.engine.workspace.templates import Templates
from agentdeck.engine.workspace.repo import ENGINE_IDENTITY, UserRepo, remove_tree

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


def build_working_copy(private: Git, base: str, workdir: Path, manifest: Path, *,
                       shared_objects: bool = True, paths: Sequence[str] = (),
                       templates: Templates | None = None) -> None:
    """Fill a fresh ``workdir`` with the files of ``base`` plus a disposable inner ``.git``.

    The files are a reflink clone of ``base``'s template where ``templates`` can make
    one (not for a sparse copy), else a checkout through the private git dir with a
    temporary index. ``manifest`` records the stat data of every file written, so the
    later capture only reads files whose stat changed. The inner repo exists for agents
    that insist on one (codex, aider); the engine never reads it, and it carries
    agentdeck's own settings.

    Args:
        shared_objects: The inner repo borrows the private dir's objects (and through
            it the user's) by ``objects/info/alternates``, as ``git worktree`` shares
            them: nothing is copied. The sandbox must then show `object_dirs` read-only
            at their own paths. Off, it gets a pack of the base tree (a runtime that
            copies the tree elsewhere, where host paths do not exist).
        paths: Check out only these (see `agentdeck.engine.workspace.sparse`).
        templates: Where reflink templates are kept (`agentdeck.engine.workspace.templates`).
    """
    remove_tree(workdir)
    workdir.parent.mkdir(parents=True, exist_ok=True)
    assert private.git_dir is not None
    with tempfile.TemporaryDirectory(dir=private.git_dir, prefix="checkout-") as tmp:
        index = Path(tmp) / "index"
        cloned = None if paths or templates is None else templates.clone(
            private, base, workdir, index)
        if cloned is None:
            workdir.mkdir()
            checkout = Git(git_dir=private.git_dir, work_tree=workdir, cwd=workdir).with_env(
                GIT_INDEX_FILE=index)
            sparse.checkout(checkout, base, paths)
            record_checkout(private, base, workdir, manifest, index)
        else:
            record_stats(cloned, manifest)
        init_inner_repo(workdir, (private, base), index, shared_objects=shared_objects)


def object_dirs(private: Git) -> list[Path]:
    """The object dirs a copy with shared objects reads: the private dir's and, following
    each ``objects/info/alternates`` (written by agentdeck, then the user's own), the
    user's. Never read from a copy: an agent may have rewritten its alternates."""
    assert private.git_dir is not None
    found: list[Path] = []
    pending = [private.git_dir / "objects"]
    while pending:
        objects = pending.pop(0)
        if objects in found or not objects.is_dir():
            continue
        found.append(objects)
        try:
            listed = (objects / "info" / "alternates").read_bytes().splitlines()
        except OSError:
            continue
        for line in listed:
            if line and not line.startswith(b"#"):
                path = Path(os.fsdecode(line))
                pending.append(path if path.is_absolute() else objects / path)
    return [path.resolve() for path in found]


def borrow_objects(workdir: Path, private: Git) -> None:
    """Point the copy's inner repo at the private dir's objects (agentdeck's own line;
    the private dir's alternates lead on to the user's)."""
    assert private.git_dir is not None
    line = os.fsencode(private.git_dir.resolve() / "objects") + b"\n"
    with safefs.opened(safefs.open_dir(os.fspath(workdir))) as root_fd, \
            safefs.opened(safefs.open_parts(root_fd, [".git", "objects", "info"],
                                            create=True)) as info:
        safefs.write_new(info, "alternates", line)


def init_inner_repo(workdir: Path, source: tuple[Git, str] | None, index: Path | None, *,
                    shared_objects: bool = False) -> None:
    """Make ``workdir/.git`` (absent): one commit of the base tree when ``source``
    (private git dir, base commit) is given, agentdeck's config, no hooks.

    Args:
        index: An index matching the checkout (its stat data makes the first
            ``git status`` in the copy fast; it is moved into the copy); without one the
            index is read from the commit, without looking at the files.
        shared_objects: Borrow the objects (see `build_working_copy`) instead of
            packing the base tree's into the copy.
    """
    inner = Git(git_dir=workdir / ".git")
    Git(cwd=workdir).run("init", "-q", "--template=", f"--initial-branch={INNER_BRANCH}", ".")
    with safefs.opened(safefs.open_dir(os.fspath(workdir / ".git"))) as git_fd:
        write_settings(git_fd)
    if source is None:
        return
    private, base = source
    tree = private.out("rev-parse", f"{base}^{{tree}}")
    if shared_objects:
        borrow_objects(workdir, private)
    else:
        _pack_tree(private, inner, tree)
    commit = inner.with_env(**ENGINE_IDENTITY).out(
        "commit-tree", tree, "-m", f"agentdeck: base {base}")
    inner.run("update-ref", f"refs/heads/{INNER_BRANCH}", commit)
    if index is None:
        inner.run("read-tree", commit)
    else:  # same entries, same stat data: `git status` in the copy starts clean and fast
        shutil.move(index, workdir / ".git" / "index")  # a rename: both are in the data dir


def _pack_tree(private: Git, inner: Git, tree: str) -> None:
    """Copy the objects of ``tree`` into the inner repo as one pack."""
    objects = private.run("rev-list", "--objects", tree).stdout
    # Only the base tree's objects, uncompressed-fast: this repo is thrown away later.
    with tempfile.TemporaryFile() as pack:
        private.run("pack-objects", "--stdout", "-q", "--window=0", input=objects, stdout=pack)
        pack.seek(0)
        inner.run("index-pack", "--stdin", stdin=pack)
