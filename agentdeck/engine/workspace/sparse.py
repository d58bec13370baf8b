"""Sparse copies: which paths of the base a task that names its paths checks out.

The rule is git's sparse-checkout "cone": everything below a named folder (or the named
file itself), plus the files directly in every folder above one, top-level files
included. Paths outside are left out of the copy, marked skip-worktree in its index (so
``git status`` there is clean) and kept as they are in the base by capture.
"""
from __future__ import annotations

from collections.abc import Sequence

from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.workspace.gitcmd import Git


def in_cone(path: str, cone: Sequence[str]) -> bool:
    """Whether ``path`` (a file of the base) is checked out for ``cone`` (() : all)."""
    if not cone:
        return True
    if any(path == top or path.startswith(top + "/") for top in cone):
        return True
    parent = path.rpartition("/")[0]
    return any(not parent or top.startswith(parent + "/") for top in cone)


def check_in_base(private: Git, base: str, cone: Sequence[str]) -> None:
    """Raise `InvalidInput` naming the first of ``cone`` that ``base`` does not hold."""
    if not cone:
        return
    listing = private.with_env(GIT_LITERAL_PATHSPECS="1").run(
        "ls-tree", "-z", "--name-only", base, "--", *cone).stdout
    found = set(listing.decode(errors="surrogateescape").split("\0"))
    for path in cone:
        if path not in found:
            raise InvalidInput(f"the path {path!r} is not in the repository at commit "
                               f"{base[:10]}: name a folder or file it holds (see git ls-tree)")


def checkout(git: Git, base: str, cone: Sequence[str]) -> None:
    """Fill the work tree and index of ``git`` (a temporary index) with the cone of ``base``."""
    if not cone:
        git.run("read-tree", "--reset", "-u", base)
        return
    git.run("read-tree", "--reset", base)
    names = [n for n in git.run("ls-files", "-z").stdout.split(b"\0") if n]
    inside = [n for n in names if in_cone(n.decode(errors="surrogateescape"), cone)]
    outside = [n for n in names if not in_cone(n.decode(errors="surrogateescape"), cone)]
    git.run("checkout-index", "-u", "-z", "--stdin", input=b"\0".join(inside) + b"\0")
    if outside:
        git.run("update-index", "-z", "--skip-worktree", "--stdin",
                input=b"\0".join(outside) + b"\0")
