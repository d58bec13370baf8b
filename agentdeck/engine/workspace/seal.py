"""Neutralize the git metadata an agent left in a working copy kept on the host.

A user opens a kept copy and runs ``git status`` in it: git then reads the copy's
``.git/config`` (``core.fsmonitor``, ``core.pager``, aliases: commands), its hooks, its
attributes (filter and diff drivers), and any nested repository or ``.git`` file below.
Sealing leaves the copy's top ``.git`` holding agentdeck's config only, with every
attribute that can name a driver unset at the highest precedence, and replaces every
nested repository by a note git refuses to use, so git run anywhere in the copy stops
instead of running something the agent chose. Everything is done no-follow.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Callable

from agentdeck.engine.workspace import safefs
from agentdeck.engine.workspace.capture import holds_repo
from agentdeck.engine.workspace.changes import _is_dotgit as is_dotgit

SEALED_CONFIG = b"""\
[core]
\trepositoryformatversion = 0
\tfilemode = true
\tbare = false
\tsymlinks = true
\tlogallrefupdates = true
\thooksPath = /dev/null
\tfsmonitor = false
[submodule]
\trecurse = false
[diff]
\tignoreSubmodules = all
[status]
\tsubmoduleSummary = false
[user]
\tname = agentdeck
\temail = agentdeck@localhost
"""
# $GIT_DIR/info/attributes outranks every .gitattributes in the tree.
SEALED_ATTRIBUTES = b"* !filter !diff !merge !ident !working-tree-encoding\n"
# Not "gitdir: ...": git finding this .git stops with "invalid gitfile format".
NOTE = (b"agentdeck: the agent made a git repository here; it was removed so that git "
        b"run in this folder cannot use the agent's settings\n")
# Inside the top .git: what could point git elsewhere or run something.
_DROP = ("hooks", "commondir", "config.worktree", "modules", "worktrees", "gitdir")
_DROP_OBJECTS_INFO = ("alternates", "http-alternates")


def write_settings(git_fd: int) -> None:
    """Give the git dir open at ``git_fd`` agentdeck's config and attributes, no hooks."""
    for name in _DROP:
        safefs.remove_at(git_fd, name)
    with safefs.opened(safefs.open_parts(git_fd, ["objects"], create=True)) as objects:
        if safefs.lstat_at(objects, "info") is not None:
            with safefs.opened(safefs.open_parts(objects, ["info"])) as info:
                for name in _DROP_OBJECTS_INFO:
                    safefs.remove_at(info, name)
    safefs.write_new(git_fd, "config", SEALED_CONFIG)
    with safefs.opened(safefs.open_parts(git_fd, ["info"], create=True)) as info:
        safefs.write_new(info, "attributes", SEALED_ATTRIBUTES)


def seal_copy(root_fd: int, rebuild: Callable[[], None]) -> None:
    """Seal the working copy open at ``root_fd``.

    Args:
        root_fd: The copy's top folder.
        rebuild: Makes a fresh inner ``.git`` (agentdeck's settings included) in the
            copy; called when the agent's ``.git`` is not a usable git dir (a file, a
            link, a folder without ``HEAD``...).
    """
    safefs.walk(root_fd, _neutralize_nested)
    if not _usable_git_dir(root_fd):
        safefs.remove_at(root_fd, ".git")
        rebuild()
        return
    with safefs.opened(safefs.open_dir(".git", root_fd)) as git_fd:
        safefs.walk(git_fd, _scrub_git_dir)
        write_settings(git_fd)


def _neutralize_nested(fd: int, prefix: str, entries: list[os.DirEntry[str]]) -> list[str]:
    """Replace each nested ``.git`` by the note; give a folder that is a git dir itself
    a note ``.git`` (git looks there first); walk on through every other folder."""
    enter = []
    for entry in entries:
        if prefix == "" and entry.name == ".git":
            continue  # the copy's own repo: sealed separately
        if is_dotgit(entry.name):
            safefs.write_new(fd, entry.name, NOTE)
        elif entry.is_dir(follow_symlinks=False):
            enter.append(entry.name)
    if prefix and holds_repo(entries) and not any(is_dotgit(e.name) for e in entries):
        safefs.write_new(fd, ".git", NOTE)
    return enter


def _scrub_git_dir(fd: int, prefix: str, entries: list[os.DirEntry[str]]) -> list[str]:
    """Inside the top ``.git``: drop links (git appends to reflogs and writes
    ``COMMIT_EDITMSG`` through them), FIFOs and devices; empty any repository in it."""
    if prefix and holds_repo(entries):
        for entry in entries:
            safefs.remove_at(fd, entry.name)
        return []
    enter = []
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            enter.append(entry.name)
        elif not entry.is_file(follow_symlinks=False):
            os.unlink(entry.name, dir_fd=fd)
    return enter


def _usable_git_dir(root_fd: int) -> bool:
    st = safefs.lstat_at(root_fd, ".git")
    if st is None or not stat.S_ISDIR(st.st_mode):
        return False
    with safefs.opened(safefs.open_dir(".git", root_fd)) as git_fd:
        head, objects, refs = (safefs.lstat_at(git_fd, n) for n in ("HEAD", "objects", "refs"))
    return (head is not None and stat.S_ISREG(head.st_mode)
            and objects is not None and stat.S_ISDIR(objects.st_mode)
            and refs is not None and stat.S_ISDIR(refs.st_mode))
