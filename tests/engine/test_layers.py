"""The engine never imports Qt (the architecture's first rule)."""
from __future__ import annotations

import pkgutil
import subprocess
import sys

from agentdeck import engine


def test_engine_modules_import_without_qt():
    names = [m.name for m in pkgutil.walk_packages(engine.__path__, "agentdeck.engine.")
             if not m.name.endswith("__main__")]
    code = ("import importlib, sys\n"
            f"for name in {names!r}:\n"
            "    importlib.import_module(name)\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'qasync') or m.startswith('agentdeck.desktop')]\n"
            "print(bad)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
