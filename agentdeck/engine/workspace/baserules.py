"""The ignore rules of a base commit, for collecting only what would enter the diff.

A changes-only collect (Docker) must never copy back what the repo ignores (an
``npm install``, a venv): the rules are the ``.gitignore`` files of the base commit, read
from the object store into a shadow tree (`agentdeck.engine.workspace.capture.IgnoreRules`),
so nothing the agent wrote decides what is ignored. Tracked paths are never ignored.

Only the folders a collect asks about are read from the base (one ``ls-tree`` each, with
their parents first, whose ``.gitignore`` files also apply): a change of 10 files costs a
few folder listings, not a listing of the whole base (1 s for 50 000 files).
"""
from __future__ import annotations

from pathlib import Path

from agentdeck.engine.workspace.capture import IgnoreRules
from agentdeck.engine.workspace.gitcmd import Git

#: A folder's entries in the base: name -> (mode, object id).
Listing = dict[str, tuple[str, str]]
_TREE = "040000"
_BLOBS = ("100644", "100755")


class BaseRules:
    """Use as a context manager (it keeps one ``git check-ignore`` running)."""

    def __init__(self, private: Git, base: str) -> None:
        assert private.git_dir is not None
        self._git, self._base = private, base
        self._folders: dict[str, Listing] = {}
        self._rules = IgnoreRules(Path(private.git_dir))

    def __enter__(self) -> "BaseRules":
        return self

    def __exit__(self, *exc: object) -> None:
        self._rules.__exit__(*exc)

    def tracked(self, path: str) -> bool:
        parent, _, name = path.rstrip("/").rpartition("/")
        return name in self._listing(parent + "/" if parent else "")

    def entries(self, folder: str) -> dict[str, bool]:
        return {name: mode == _TREE for name, (mode, _sha) in self._listing(folder).items()}

    def ignored(self, folder: str, names: list[tuple[str, bool]]) -> set[str]:
        listing = self._listing(folder)  # also puts the rules of folder and parents in place
        untracked = [(name, is_dir) for name, is_dir in names if name not in listing]
        return self._rules.ignored(folder, untracked)

    def _listing(self, folder: str) -> Listing:
        """The base's entries directly in ``folder`` (``""`` or ``"a/b/"``; none if the
        base has no such folder); its ``.gitignore`` is added to the rules."""
        if folder in self._folders:
            return self._folders[folder]
        listing: Listing = {}
        parent, _, name = folder.rstrip("/").rpartition("/")
        if not folder or self._listing(parent + "/" if parent else "").get(name, ("",))[0] == _TREE:
            for record in self._git.iter_z("ls-tree", "-z", f"{self._base}:{folder}"):
                meta, entry = record.split("\t", 1)
                mode, _kind, sha = meta.split()
                listing[entry] = (mode, sha)
        self._folders[folder] = listing
        mode, sha = listing.get(".gitignore", ("", ""))
        if mode in _BLOBS:
            self._rules.add_rules(folder, self._git.run("cat-file", "blob", sha).stdout)
        return listing
