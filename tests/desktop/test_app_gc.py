"""Start-up objects leave the collector's sight once the first window is shown."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_SCRIPT = """
import asyncio, gc, sys
from pathlib import Path
import qasync
from PySide6.QtWidgets import QApplication
from agentdeck.desktop.app import SETTLE_AFTER_MS, Session

async def main():
    before = gc.get_freeze_count()
    first = await Session.open(Path(sys.argv[1]) / "one")
    opened = gc.get_freeze_count()
    await asyncio.sleep(SETTLE_AFTER_MS / 1000 + 0.5)
    frozen = gc.get_freeze_count()
    second = await Session.open(Path(sys.argv[1]) / "two")
    await asyncio.sleep(SETTLE_AFTER_MS / 1000 + 0.5)
    watched = {id(o) for o in gc.get_objects()}  # the permanent generation is not listed
    print(before, opened, frozen, int(id(first) in watched), int(id(second) in watched))
    await first.close()
    await second.close()

app = QApplication([])
loop = qasync.QEventLoop(app)
asyncio.set_event_loop(loop)
with loop:
    loop.run_until_complete(main())
"""


def test_the_first_session_freezes_start_up_objects_once(tmp_path: Path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=120, check=True).stdout
    before, opened, frozen, first_watched, second_watched = map(int, out.split()[-5:])
    assert before == opened == 0  # not before the first frame
    assert frozen > 10_000  # modules, classes, the window's widgets
    assert not first_watched  # frozen with the rest of start-up
    assert second_watched  # a later session freezes nothing more
