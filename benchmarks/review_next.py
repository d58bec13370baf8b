"""How fast ``n`` opens the next task of the review inbox, with 50 tasks waiting.

A real git repo of 20 Python modules (200 lines each) gets 50 real shell-agent tasks on
the embedded local runtime, each rewriting lines of 3 modules; once all 50 wait for
review, the real main window (offscreen) is driven by key presses. Measured: from the
``n`` key press to the next task's diff shown with its first file highlighted and
painted, after the reviewer looked at the current diff for a second (``n``, the goal:
the inbox reads the next change ahead meanwhile) and when ``n`` is pressed again at once
(``n_rapid``: nothing read ahead yet). Reference, same run, interleaved: opening a task's
diff page directly (select it in Tasks, then the Review tab), the way to review before
the inbox.

Prints one JSON line. Aim: ``n`` p95 < 50 ms.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/review_next.py [--tasks 50]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import qasync  # noqa: E402
from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from agentdeck.desktop.app import Session  # noqa: E402

MODULES, LINES, CYCLES = 20, 200, 30
DWELL = 1.0  # seconds the reviewer looks at a diff before the next key
GOAL_P95_MS = 50.0


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    for m in range(MODULES):
        body = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(LINES // 3))
        (path / f"mod{m}.py").write_text(body)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.email=b@example.com", "-c", "user.name=B", "commit", "-qm", "init"]):
        subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True)
    return path


def script(n: int) -> str:
    """A shell agent that rewrites every 4th line of 3 modules."""
    files = " ".join(f"mod{(n + k) % MODULES}.py" for k in range(3))
    return f"for f in {files}; do sed -i '0~4s/x + /x * {n} + /' $f; done"


async def next_turn() -> None:
    """Return after Qt handled what is pending now (posted paints come first)."""
    done = asyncio.get_running_loop().create_future()
    QTimer.singleShot(0, lambda: done.done() or done.set_result(None))
    await done


async def until(predicate, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError(str(predicate))
        await asyncio.sleep(0.0005)


class Shown:
    """Which (task, file) the panel last highlighted."""

    def __init__(self, panel) -> None:
        self.last: tuple[str, int] | None = None
        panel.file_highlighted.connect(lambda number: setattr(self, "last",
                                                              (panel.task_id, number)))


async def press_n(window, shown: Shown) -> tuple[float, str]:
    """Seconds from pressing ``n`` to the next task's first file highlighted and painted."""
    inbox = window.review.inbox
    row = inbox.model.row_of(inbox.shown_id)
    expected = inbox.model.task_at(((row if row is not None else -1) + 1)
                                   % inbox.model.rowCount()).id
    t0 = time.perf_counter()
    QTest.keyClick(window.focusWidget() or window, Qt.Key.Key_N)
    await until(lambda: shown.last == (expected, 0))
    window.review.panel.view.viewport().repaint()
    await next_turn()
    return time.perf_counter() - t0, expected


async def open_directly(window, shown: Shown, after: str) -> float:
    """Seconds from selecting a task in Tasks (two rows after ``after`` in the inbox: one
    not on screen) and showing Review to its first file highlighted and painted (the
    reference)."""
    inbox = window.review.inbox
    task_id = inbox.model.task_at((inbox.model.row_of(after) + 2) % inbox.model.rowCount()).id
    window.tabs.setCurrentWidget(window.split)
    shown.last = None
    await next_turn()
    t0 = time.perf_counter()
    window.open_task(task_id)
    window.tabs.setCurrentWidget(window.review)
    await until(lambda: shown.last == (task_id, 0))
    window.review.panel.view.viewport().repaint()
    await next_turn()
    return time.perf_counter() - t0


async def bench(root: Path, tasks: int) -> dict:
    repo = make_repo(root / "repo")
    session = await Session.open(root / "home", default_runtime="local", max_parallel=4)
    window = session.window
    try:
        window.resize(1440, 900)
        window.show()
        t_gen = time.perf_counter()
        for n in range(tasks):
            await session.ctx.engine.submit(repo, script(n), title=f"change {n}")
        await until(lambda: window.review.inbox.model.rowCount() == tasks, timeout=600)
        generated = time.perf_counter() - t_gen
        shown = Shown(window.review.panel)
        window.tabs.setCurrentWidget(window.review)
        _, task_id = await press_n(window, shown)  # warm: first use of the panel
        presses, rapid, direct = [], [], []
        for _ in range(CYCLES):
            direct.append(await open_directly(window, shown, task_id))
            window.tabs.setCurrentWidget(window.review)
            await asyncio.sleep(DWELL)
            presses.append((await press_n(window, shown))[0])
            seconds, task_id = await press_n(window, shown)
            rapid.append(seconds)
    finally:
        await session.close()
    p95, rapid_p95, ref_p95 = (statistics.quantiles(v, n=20)[-1] * 1000
                               for v in (presses, rapid, direct))
    return {
        "benchmark": "review_next", "tasks_waiting": tasks, "presses": len(presses),
        "n_p50_ms": round(statistics.median(presses) * 1000, 1), "n_p95_ms": round(p95, 1),
        "n_rapid_p50_ms": round(statistics.median(rapid) * 1000, 1),
        "n_rapid_p95_ms": round(rapid_p95, 1),
        "direct_open_p50_ms": round(statistics.median(direct) * 1000, 1),
        "direct_open_p95_ms": round(ref_p95, 1),
        "ratio_p95": round(p95 / ref_p95, 2), "setup_s": round(generated, 1),
        "load_avg_1m": round(os.getloadavg()[0], 1),
        "goal_n_p95_ms": GOAL_P95_MS, "goal_met": p95 < GOAL_P95_MS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50)
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as tmp, loop:
        result = loop.run_until_complete(bench(Path(tmp), args.tasks))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
