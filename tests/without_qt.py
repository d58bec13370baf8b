"""A pytest plugin (``-p tests.without_qt``) that makes Qt and the desktop impossible to
import, so the engine's suite shows it runs where PySide6 is not installed (`make test`
runs tests/engine this way)."""
from __future__ import annotations

import importlib.abc
import sys

BLOCKED = ("PySide6", "shiboken6", "qasync", "agentdeck.desktop", "agentdeck.cli", "pytestqt")


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: the engine runs "
                                      "without Qt)", name=name)
        return None


sys.meta_path.insert(0, _Blocker())
