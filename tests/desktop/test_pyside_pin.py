"""Regression guard for the PySide6 pin (<6.12): 6.12.0 aborts after ~100k void Qt calls.

See RESEARCH.md "PySide6 pin". When this passes on a newer PySide6, the pin can be lifted.
"""
from __future__ import annotations

import subprocess
import sys

_SCRIPT = """
from PySide6.QtCore import QObject
for _ in range(300_000):
    QObject().setObjectName("x")
print("done")
"""


def test_300k_calls_returning_nothing_do_not_crash_the_interpreter() -> None:
    done = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "done"
