"""`Workspace`: every git operation of the engine, as blocking calls.

The engine runs these in worker threads (``asyncio.to_thread``). Per user repo, calls
that change its state (snapshot, accept) are serialized by a lock.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from agentdeck.engine.errors import InvalidInput, RepoError
from agentdeck.engine.workspace.gitcmd import Git
from agentdeck.engine.workspace import accept as _accept
from agentdeck.engine.workspace import freshen as _freshen, testcopy, touched as _touched
from agentdeck.engine.workspace.merge import merge_onto
from agentdeck.engine.workspace.capture import capture_tree
from agentdeck.engine.workspace.changes import diff_result
from agentdeck.engine.workspace.hunks import FileHunks, file_hunks
from agentdeck.engine.workspace.copies import (
    borrow_objects, build_working_copy, commit_worktree, init_inner_repo, object_dirs,
)
from agentdeck.engine.workspace.baserules import BaseRules
from agentdeck.engine.workspace.overlay import capture_overlay
from agentdeck.engine.workspace.safefs import open_dir, opened
from agentdeck.engine.workspace.treetar import write_tree_tar
from agentdeck.engine.workspace.seal import seal_copy
from agentdeck.engine.workspace.space import tree_bytes
from agentdeck.engine.workspace.templates import Templates
from agentdeck.engine.workspace import sparse
from agentdeck.engine.workspace.repo import (
    ENGINE_IDENTITY, PrivateStore, UserRepo, base_ref, check_task_id, check_commit, open_repo,
    remove_tree, result_ref, reviewed_ref,
)
from agentdeck.engine.workspace.types import DiffResult, RepoInfo

RepoPath = str | os.PathLike[str]


class Workspace:
    """Snapshots, per-task working copies, diffs and accepts, all under ``home``.

    Layout: ``home/git/<hash>.git`` (private bare dir per user repo), ``home/work/<task>``
    (the agent's working copy), ``home/index/<task>`` (the stat manifest of that copy),
    ``home/templates/<hash>/<tree>`` (pristine checkouts task copies are reflink clones
    of, where the filesystem allows: `agentdeck.engine.workspace.templates`).

    Args:
        home: The engine's data dir.
        max_files: Most changed files `capture` accepts.
        max_bytes: Most bytes of new content `capture` accepts.
    """

    def __init__(self, home: Path, *, max_files: int = 20000, max_bytes: int = 1 << 30) -> None:
        self.home = Path(home)
        self.max_files = max_files
        self.max_bytes = max_bytes
        self._store = PrivateStore(self.home)
        self._templates = Templates(self.home)
        self._locks: dict[Path, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def workdir(self, task_id: str) -> Path:
        """The working copy of ``task_id`` (exists after `prepare`)."""
        return self.home / "work" / check_task_id(task_id)

    def _manifest(self, task_id: str) -> Path:
        return self.home / "index" / task_id

    def _lock(self, repo: UserRepo) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(repo.root, threading.Lock())

    def inspect(self, repo: RepoPath) -> RepoInfo:
        """Describe the user's repo.

        Raises:
            RepoError: missing path, not a git repo, bare, or no commits yet.
        """
        user = open_repo(repo)
        head = user.head()
        dirty = bool(user.git.run("status", "--porcelain", "-z").stdout)
        return RepoInfo(path=user.root, branch=user.branch(), head=head, dirty=dirty)

    def snapshot(self, task_id: str, repo: RepoPath, include_uncommitted: bool = False) -> str:
        """Record the commit a task starts from and return it.

        Args:
            task_id: The task; its base is kept under ``refs/agentdeck/base/<task>``.
            repo: The user's repo.
            include_uncommitted: Also take tracked changes and untracked, non-ignored
                files (a commit on top of HEAD); the user's index, files and refs stay
                untouched.
        """
        return self.snapshot_all([task_id], repo, include_uncommitted)[1]

    def snapshot_all(self, task_ids: Sequence[str], repo: RepoPath,
                     include_uncommitted: bool = False) -> tuple[Path, str]:
        """`snapshot` for many tasks of one repo at once (one commit, one git call for
        all their refs); returns the repo's top folder and the commit.
        """
        for task_id in task_ids:
            check_task_id(task_id)
        user = open_repo(repo)
        private = self._store.open(user)
        with self._lock(user):
            head = user.head()
            base = (commit_worktree(user, private, head, task_ids[0]) if include_uncommitted
                    else head)
        refs = "".join(f"update {base_ref(task_id)} {base}\n" for task_id in task_ids)
        private.run("update-ref", "--stdin", input=refs.encode())
        return user.root, base

    def forget_bases(self, task_ids: Sequence[str], repo: RepoPath) -> None:
        """Delete the base refs `snapshot_all` made for ``task_ids`` (tasks never stored)."""
        private = self._store.open(open_repo(repo))
        refs = "".join(f"delete {base_ref(task_id)}\n" for task_id in task_ids)
        private.run("update-ref", "--stdin", input=refs.encode())

    def prepare(self, task_id: str, repo: RepoPath, base: str, *,
                shared_objects: bool = True, paths: Sequence[str] = ()) -> Path:
        """Make a fresh working copy of ``base`` for the agent and return its folder.

        Args:
            shared_objects: Its inner ``.git`` borrows the objects (nothing copied); the
                sandbox must show `object_dirs` read-only. Off for a runtime that moves
                the copy where host paths do not exist (the inner repo then gets a pack).
            paths: Check out only these (`agentdeck.engine.workspace.sparse`); a sparse
                copy is always checked out, never cloned from a template.
        """
        workdir = self.workdir(task_id)
        private = self._private(repo, base)
        build_working_copy(private, base, workdir, self._manifest(task_id),
                           shared_objects=shared_objects, paths=paths,
                           templates=self._templates)
        return workdir

    def check_paths(self, repo: RepoPath, base: str, paths: Sequence[str]) -> None:
        """Raise `InvalidInput` unless ``base`` holds each of ``paths``."""
        sparse.check_in_base(self._private(repo, base), base, paths)

    def object_dirs(self, repo: RepoPath) -> list[Path]:
        """The object dirs a copy with shared objects reads (to be shown read-only)."""
        return object_dirs(self._store.open(open_repo(repo)))

    def prepare_overlay(self, task_id: str) -> Path:
        """Make the task's folder empty: its sandbox starts from a layer of the base tree
        and only the agent's changes come back here (see `capture`'s ``removed``)."""
        workdir = self.workdir(task_id)
        remove_tree(workdir)
        self._manifest(task_id).unlink(missing_ok=True)
        workdir.mkdir(parents=True)
        return workdir

    def tree_tar(self, repo: RepoPath, base: str, out: IO[bytes]) -> None:
        """Write ``base``'s files and a fresh inner ``.git`` as a tar (for image layers)."""
        write_tree_tar(self._private(repo, base), base, out)

    def base_rules(self, repo: RepoPath, base: str) -> BaseRules:
        """The ignore rules of ``base`` (a context manager), read from its objects."""
        return BaseRules(self._private(repo, base), base)

    def capture(self, task_id: str, repo: RepoPath, base: str, workdir: Path,
                removed: Sequence[str] | None = None, *, max_files: int | None = None,
                max_bytes: int | None = None, paths: Sequence[str] = ()) -> DiffResult:
        """Record what the agent changed in ``workdir`` as a commit on ``base``, then
        seal the copy (see `seal`), whether or not the change could be recorded.

        Git never looks at the copy: the tree is walked no-follow and built in the
        private git dir (engine.workspace.capture); nested repositories become gitlink
        entries, which review flags and accept refuses.

        Args:
            removed: given, ``workdir`` holds only the changed files (an overlay on
                ``base``) and these base paths were removed (engine.workspace.overlay).
            max_files, max_bytes: raise the workspace's limits for this capture.

        Raises:
            UnsafeChange: more than ``max_files`` changed files or ``max_bytes`` of new
                content (nothing is written then).
            RepoError: the working copy is gone.

        Args:
            paths: The sparse copy's paths (base files outside them are kept).
        """
        check_task_id(task_id)
        workdir = Path(workdir)
        if not workdir.is_dir():
            raise RepoError(f"the working copy {workdir} of task {task_id} no longer exists")
        source: tuple[Git, str] | None = None
        max_files = max(max_files or 0, self.max_files)
        max_bytes = max(max_bytes or 0, self.max_bytes)
        try:
            private = self._private(repo, base)
            if removed is None:
                source = (private, base)
                tree = capture_tree(private, base, workdir, self._manifest(task_id),
                                    max_files=max_files, max_bytes=max_bytes, cone=paths)
            else:  # an overlay: its inner .git stays empty (no copy of the base's objects)
                tree = capture_overlay(private, base, workdir, removed,
                                       max_files=max_files, max_bytes=max_bytes)
        finally:
            self._seal(workdir, source)
        commit = private.with_env(**ENGINE_IDENTITY).out(
            "commit-tree", tree, "-p", base, "-m", f"agentdeck: result of task {task_id}")
        private.run("update-ref", result_ref(task_id), commit)
        return diff_result(private, base, commit)

    def seal(self, task_id: str) -> None:
        """Leave the task's working copy safe to open: its ``.git`` holds agentdeck's
        config only (no hooks, no fsmonitor, no drivers from attributes) and every
        repository the agent nested in it is replaced by a note git refuses to use.

        `capture` does this itself; call it for a copy kept after the agent ended without
        a capture. A missing copy is left alone.
        """
        workdir = self.workdir(task_id)
        if workdir.is_dir():
            self._seal(workdir, self._base_of(task_id))

    def _seal(self, workdir: Path, source: tuple[Git, str] | None) -> None:
        # A copy made with shared objects has alternates; sealing drops every line of
        # them (the agent may have written its own), and agentdeck's comes back. Only
        # its presence is looked at: a copy with its own pack stays self-contained.
        shared = os.path.lexists(workdir / ".git" / "objects" / "info" / "alternates")
        try:
            with opened(open_dir(os.fspath(workdir))) as root_fd:
                seal_copy(root_fd, lambda: init_inner_repo(workdir, source, None,
                                                           shared_objects=shared))
            if source is not None and shared:
                borrow_objects(workdir, source[0])
        except OSError as exc:
            raise RepoError(f"could not make the working copy {workdir} safe to open "
                            f"({exc}); delete it before using git there") from exc

    def _base_of(self, task_id: str) -> tuple[Git, str] | None:
        """The private git dir and base commit a task's copy was made from, if kept."""
        for git_dir in self._store.all_dirs():
            git = Git(git_dir=git_dir)
            proc = git.run("rev-parse", "--verify", "-q", base_ref(task_id), ok=(0, 1))
            if proc.returncode == 0:
                return git, proc.stdout.decode().strip()
        return None

    def tracked_files(self, repo: RepoPath, base: str) -> set[str]:
        """The paths of every file in ``base``."""
        listing = self._private(repo, base).out("ls-tree", "-r", "-z", "--name-only", base)
        return {name for name in listing.split("\0") if name}

    def diff_result(self, repo: RepoPath, base: str, commit: str) -> DiffResult:
        """The files changed between ``base`` and a recorded ``commit`` (as `capture` said)."""
        return diff_result(self._private(repo, base), base, check_commit(commit))

    def file_hunks(self, repo: RepoPath, base: str, commit: str) -> list[FileHunks]:
        """Every changed file with its hunks (``PATH#N``), or as one unit when it is not a
        text file modified in place (see `agentdeck.engine.workspace.hunks`)."""
        private = self._private(repo, base)
        return file_hunks(private, diff_result(private, base, check_commit(commit)))

    def patch(self, repo: RepoPath, base: str, commit: str, paths: list[str] | None = None,
              *, since: str | None = None) -> str:
        """The unified diff ``base..commit`` (binary-safe, renames found), optionally
        limited to ``paths``; with ``since`` (an earlier result of the task, see
        `keep_reviewed`) the interdiff ``since..commit`` instead."""
        check_commit(commit)
        old = check_commit(since) if since else base
        git = self._private(repo, base).with_env(GIT_LITERAL_PATHSPECS="1")
        proc = git.run("diff", "--binary", "-M", "--no-color", "--no-ext-diff", "--no-textconv",
                       old, commit, "--", *(paths or []))
        return proc.stdout.decode(errors="replace")

    def keep_reviewed(self, task_id: str, repo: RepoPath, base: str, commit: str) -> None:
        """Keep the result ``commit`` a reviewer sent back reachable (a follow-up's capture
        moves the result ref on) until the task's copy is discarded."""
        check_task_id(task_id)
        self._private(repo, base).run("update-ref", reviewed_ref(task_id), check_commit(commit))

    def accept(self, task_id: str, repo: RepoPath, base: str, commit: str, message: str, *,
               only: Sequence[str] = (), exclude: Sequence[str] = (), branch: bool = False,
               run_hooks: bool = False) -> _accept.AcceptResult:
        """Apply the task's result to the user's repo as the user's own commit (signed
        when their config signs commits), never touching a file of theirs that HEAD
        does not track.

        Args:
            only: ``PATH`` / ``PATH#N`` selectors of the files and hunks to apply (see
                `file_hunks`); empty: all of them.
            exclude: Selectors of files and hunks left out (they keep their base version).
            branch: Only create branch ``agentdeck/<task_id>``; files and HEAD untouched.
            run_hooks: Commit with the user's ``git commit`` so their commit hooks run
                (off by default: a hook would run the agent's code on this machine).

        Returns:
            The new commit (and the branch), with notes such as the hooks not run.

        Raises:
            InvalidInput: a selector names no file or hunk of the change (nothing changed).
            UnsafeChange: an included file is unsafe, or the change's attributes would
                switch the user's filters (the message names them).
            ConflictError: the branch moved and the change conflicts (repo untouched).
            RepoError: detached HEAD, operation in progress, local changes or untracked
                or ignored files in the way, signing or a hook failed (repo untouched).
        """
        check_task_id(task_id)
        check_commit(commit)
        if not message.strip():
            raise InvalidInput("the commit message is empty")
        if branch and run_hooks:
            raise InvalidInput("hooks run only for a commit on the current branch, "
                               "not when accepting as a branch")
        user = open_repo(repo)
        private = self._private(user, base)
        with self._lock(user):
            tree = _accept.proposed_tree(private, base, commit, only, exclude)
            if branch:
                return _accept.create_branch(user, private, f"agentdeck/{task_id}", base,
                                             tree, message)
            return _accept.commit_on_head(user, private, base, tree, message, run_hooks)

    def touched(self, task_id: str, repo: RepoPath, base: str,
                commit: str | None) -> frozenset[str]:
        """The paths a task changes: those of its result ``commit``, or with none (it
        runs) those that differ in its working copy now (nothing is recorded)."""
        private = self._private(repo, base)
        if commit:
            return _touched.result_paths(private, base, check_commit(commit))
        workdir = self.workdir(task_id)
        if not workdir.is_dir():
            return frozenset()
        return _touched.live_paths(private, base, workdir, self._manifest(task_id))

    def conflicts_on_head(self, repo: RepoPath, base: str, commit: str) -> tuple[str, ...]:
        """The paths where the change ``base..commit`` conflicts with the user's HEAD."""
        user = open_repo(repo)
        head = user.head()
        if head == base:
            return ()
        return merge_onto(self._private(user, base), base, head, check_commit(commit)).conflicts

    def check_target(self, repo: RepoPath, base: str) -> str:
        """The branch a change of ``base`` lands on (see `freshen.check_target`)."""
        user = open_repo(repo)
        return _freshen.check_target(user, self._private(user, base), base)

    def freshen(self, task_id: str, repo: RepoPath, base: str, commit: str, *,
                keep_conflicts: bool = False) -> _freshen.Freshened | None:
        """Move the task's change onto the user's HEAD: new base and result refs, and
        its working copy rebuilt from the new result (see `freshen.rebuild_copy`).

        Returns:
            What it became; ``None`` when the base already is HEAD. A conflicting one is
            only written with ``keep_conflicts`` (its files then hold the markers).
        """
        user = open_repo(repo)
        private = self._private(user, base)
        with self._lock(user):
            head = user.head()
            if head == base:
                return None
            fresh = _freshen.rebase_change(private, base, check_commit(commit), head, task_id)
            if fresh.conflicts and not keep_conflicts:
                return fresh
            private.run("update-ref", "--stdin", input=(
                f"update {base_ref(task_id)} {fresh.base}\n"
                f"update {result_ref(task_id)} {fresh.commit}\n").encode())
        if self.workdir(task_id).is_dir():
            _freshen.rebuild_copy(private, fresh, self.workdir(task_id),
                                  self._manifest(task_id))
        return fresh

    def head(self, repo: RepoPath) -> str:
        """The commit the user's HEAD points to."""
        return open_repo(repo).head()

    def candidate(self, repo: RepoPath, base: str, commit: str, onto: str) -> str:
        """A commit (private) of what accepting ``base..commit`` on top of ``onto`` (the
        user's HEAD, or an earlier candidate) would commit.

        Raises:
            ConflictError: it conflicts with ``onto`` (nothing changed).
        """
        user = open_repo(repo)
        private = self._private(user, base)
        tree = _freshen.candidate_tree(user, private, base, check_commit(commit),
                                       check_commit(onto))
        return private.with_env(**ENGINE_IDENTITY).out(
            "commit-tree", tree, "-p", onto, "-m", "agentdeck: landing candidate")

    def add_test_copy(self, repo: RepoPath, base: str, commit: str) -> Path:
        """A temporary checkout of ``commit`` to run tests in (`testcopy`)."""
        return testcopy.add_test_copy(self._private(repo, base), check_commit(commit))

    def remove_test_copy(self, repo: RepoPath, base: str, folder: Path) -> None:
        testcopy.remove_test_copy(self._private(repo, base), folder)

    def read_at_head(self, repo: RepoPath, path: str) -> bytes | None:
        """The content of ``path`` as committed at the user's HEAD (``None``: absent)."""
        user = open_repo(repo)
        proc = user.git.run("cat-file", "blob", f"{user.head()}:{path}", ok=(0, 128))
        return proc.stdout if proc.returncode == 0 else None

    def behind(self, repo: RepoPath, base: str) -> int:
        """How many commits the user's HEAD has that ``base`` does not (staleness)."""
        user = open_repo(repo)
        return int(self._private(user, base).out("rev-list", "--count", f"{base}..{user.head()}"))

    def discard(self, task_id: str) -> None:
        """Delete the task's working copy, its index and its private refs."""
        remove_tree(self.workdir(task_id))
        self._manifest(task_id).unlink(missing_ok=True)
        refs = "".join(f"delete {ref(task_id)}\n"
                       for ref in (base_ref, result_ref, reviewed_ref)).encode()
        for git_dir in self._store.all_dirs():
            Git(git_dir=git_dir).run("update-ref", "--stdin", input=refs)

    def copy_ids(self) -> set[str]:
        """Every task id with something on disk here: a working copy, its index or run
        files (read from folder names; names that are not task ids are left out)."""
        found: set[str] = set()
        for folder in (self.home / "work", self.home / "index", self.home / "runs"):
            if folder.is_dir():
                found.update(name for name in os.listdir(folder) if _is_task_id(name))
        return found

    def task_paths(self, task_id: str) -> list[Path]:
        """What a task keeps on disk: its working copy, its index, its run files."""
        check_task_id(task_id)
        return [self.workdir(task_id), self._manifest(task_id), self.home / "runs" / task_id]

    def task_bytes(self, task_id: str, seen: set[tuple[int, int]]) -> int:
        """Allocated bytes of `task_paths` (see `agentdeck.engine.workspace.space`)."""
        return sum(tree_bytes(path, seen) for path in self.task_paths(task_id))

    def store_bytes(self, seen: set[tuple[int, int]]) -> dict[str, int]:
        """Allocated bytes of each private git dir (what agentdeck wrote: snapshots,
        results) and of its reflink templates, by the repo path it belongs to; the user's
        borrowed objects are not counted."""
        sizes: dict[str, int] = {}
        for git_dir in self._store.all_dirs():
            try:
                repo = os.fsdecode((git_dir / "agentdeck-repo").read_bytes().strip())
            except OSError:
                repo = str(git_dir)
            sizes[repo] = (sizes.get(repo, 0) + tree_bytes(git_dir, seen)
                           + self._templates.bytes_of(git_dir, seen))
        return sizes

    def remove_unused_templates(self) -> None:
        """Remove every reflink template whose tree is the base of no task still known
        here (a task's base ref lives until `discard`)."""
        for git_dir in self._store.all_dirs():
            private = Git(git_dir=git_dir)
            trees = private.out("for-each-ref", "--format=%(tree)", "refs/agentdeck/base/")
            self._templates.remove_unused(private, set(trees.split()))

    def remove_task_files(self, task_id: str) -> None:
        """`discard` the task, and delete its run files too (links inside are removed,
        never followed)."""
        self.discard(task_id)
        remove_tree(self.task_paths(task_id)[2])

    def _private(self, repo: RepoPath | UserRepo, base: str) -> Git:
        """The private git dir of ``repo``, after checking it knows commit ``base``."""
        check_commit(base)
        user = repo if isinstance(repo, UserRepo) else open_repo(repo)
        private = self._store.open(user)
        known = private.run("rev-parse", "--verify", "-q", f"{base}^{{commit}}", ok=(0, 1))
        if known.returncode:
            raise RepoError(
                f"the task's base commit {base[:12]} is no longer in {user.root} (history "
                "rewritten and garbage-collected?): its change cannot be shown or applied; "
                "retry the task to run it again on the current branch")
        return private


def _is_task_id(name: str) -> bool:
    try:
        check_task_id(name)
    except InvalidInput:
        return False
    return True
