"""The ignore rules of a base commit, for collecting only what would enter the diff.

A changes-only collect (Docker) must never copy back what the repo ignores (an
``npm install``, a venv): the rules are the ``.gitignore`` files of the base commit, read
from the object store into a shadow tree (`agentdeck.engine.workspace.capture.IgnoreRules`),
so nothing the agent wrote decides what is ignored. Tracked paths are never ignored.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from agentdeck.engine.workspace.capture import BaseTree, IgnoreRules
from agentdeck.engine.workspace.gitcmd import Git


class BaseRules:
    """Use as a context manager (it keeps one ``git check-ignore`` running)."""

    def __init__(self, private: Git, base: str) -> None:
        assert private.git_dir is not None
        self._tree, ignores = _load(private, base)
        self._rules = IgnoreRules(Path(private.git_dir))
        self._folders: dict[str, dict[str, bool]] | None = None
        for folder, content in ignores:
            self._rules.add_rules(folder, content)

    def __enter__(self) -> "BaseRules":
        return self

    def __exit__(self, *exc: object) -> None:
        self._rules.__exit__(*exc)

    def tracked(self, path: str) -> bool:
        return path in self._tree.files or path in self._tree.dirs

    def entries(self, folder: str) -> dict[str, bool]:
        if self._folders is None:  # (indexed when first asked: only a listing asks)
            self._folders = {}
            for paths, is_dir in ((self._tree.files, False), (self._tree.dirs, True)):
                for path in paths:
                    parent, _, name = path.rpartition("/")
                    self._folders.setdefault(parent + "/" if parent else "", {})[name] = is_dir
        return self._folders.get(folder, {})

    def ignored(self, folder: str, names: list[tuple[str, bool]]) -> set[str]:
        untracked = [(name, is_dir) for name, is_dir in names
                     if not self.tracked(folder + name)]
        return self._rules.ignored(folder, untracked)


#: The last few base trees with their .gitignore files: a commit never changes, and every
#: task on the same base (a batch) asks again; a 50 000-file listing takes a while.
_CACHE: OrderedDict[tuple[str, str], tuple[BaseTree, list[tuple[str, bytes]]]] = OrderedDict()
_CACHE_SIZE = 4
_CACHE_LOCK = threading.Lock()


def _load(private: Git, base: str) -> tuple[BaseTree, list[tuple[str, bytes]]]:
    key = (str(private.git_dir), base)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    tree = BaseTree.load(private, base)
    ignores = [(path[:-len(".gitignore")], private.run("cat-file", "blob", entry.sha).stdout)
               for path, entry in tree.files.items()
               if (path == ".gitignore" or path.endswith("/.gitignore"))
               and entry.mode in ("100644", "100755")]
    with _CACHE_LOCK:
        _CACHE[key] = (tree, ignores)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return tree, ignores
