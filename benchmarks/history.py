"""A long history: 100k stored tasks and 10M log lines, then start the app and open a log.

The data is generated straight into a store (the engine's own `Store`, its schema and
writer thread), then the real app starts on it offscreen. Measured:

- start → interactive: from `Session.open` (engine open + window load) until the shown
  window has processed its first event-loop turn; the same measurement on an empty data
  dir in the same run is the reference;
- opening the largest log (1M lines): from selecting the task until the newest page is
  in the log view.

Prints one JSON line. Aims: start < 1.5 s, largest log < 200 ms.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/history.py [--tasks 100000]
        [--lines 10000000] [--keep DIR]   (DIR reuses a store generated before)
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import qasync
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from agentdeck.desktop.app import Session
from agentdeck.engine.store import db as st
from agentdeck.engine.store import writes as wr
from agentdeck.engine.models import EntryKind, LogEntry, ReviewState, Stream, Task, TaskState
from agentdeck.engine.store.logchunks import insert_chunks

BIGGEST = 1_000_000
PER_LOG = 1000
_STATES = [TaskState.SUCCEEDED] * 6 + [TaskState.FAILED, TaskState.CANCELLED, TaskState.TIMED_OUT]
_WORDS = "read write parse compile test refactor module function class import error ok".split()


def _task(n: int, now: float) -> Task:
    state = random.choice(_STATES)
    created = now - 86400 * 90 + n * 60
    return Task(id=f"h{n:07d}", prompt=f"history task {n}: {' '.join(random.sample(_WORDS, 5))}",
                repo=f"/repos/project-{n % 40}", title=f"history task {n}", state=state,
                review=ReviewState.ACCEPTED if state is TaskState.SUCCEEDED else ReviewState.NONE,
                created_at=created, started_at=created + 5, finished_at=created + 300,
                exit_code=0 if state is TaskState.SUCCEEDED else 1, lines_added=n % 50,
                lines_removed=n % 7, files_changed=n % 5, tokens_in=n % 9000, cost_usd=(n % 100) / 1000)


def _log_entries(task_id: str, first: int, last: int, t0: float) -> list[LogEntry]:
    return [LogEntry(task_id, seq, t0 + seq * 0.01, 1, Stream.STDOUT, EntryKind.RAW,
                     f"[{seq:>8}] {_WORDS[seq % 12]} src/pkg/module_{seq % 97}.py: step {seq} done",
                     None) for seq in range(first, last + 1)]


def generate(home: Path, tasks: int, lines: int) -> str:
    """Fill ``home`` with ``tasks`` finished tasks and ``lines`` log lines; return the
    id of the task with the largest log."""
    random.seed(7)
    home.mkdir(parents=True, exist_ok=True)
    store = st.Store(st.db_path(home))
    now = time.time()
    for start in range(0, tasks, 10_000):
        chunk = [_task(n, now) for n in range(start, min(tasks, start + 10_000))]
        store.write_sync(wr.insert_tasks(chunk))
    biggest = f"h{tasks - 1:07d}"  # the newest task, so it is in the first screenful
    plan = [(biggest, min(BIGGEST, lines))]
    left, n = lines - plan[0][1], 0
    while left > 0 and n < tasks - 1:
        plan.append((f"h{n:07d}", min(PER_LOG, left)))
        left -= plan[-1][1]
        n += 1
    # Stored as the engine stores a finished task's log: packed chunks (`logchunks`).
    for task_id, count in plan:
        for first in range(1, count + 1, 102_400):  # 200 chunks a write
            entries = _log_entries(task_id, first, min(count, first + 102_399), now)
            store.write_sync(lambda conn, t=task_id, e=entries: insert_chunks(conn, t, e))
    store.close()
    return biggest


async def start_app(home: Path) -> tuple[Session, float]:
    """Open the app on ``home``; seconds until the shown window is interactive."""
    t0 = time.perf_counter()
    session = await Session.open(home, drive_queue=False)
    session.window.resize(1440, 900)
    session.window.show()
    await next_turn()  # the window's first paint is done and input would be handled
    return session, time.perf_counter() - t0


async def next_turn() -> None:
    """Return after Qt handled what is pending now (posted paint events come first)."""
    done = asyncio.get_running_loop().create_future()
    QTimer.singleShot(0, lambda: done.done() or done.set_result(None))
    await done


async def open_log(session: Session, task_id: str) -> tuple[float, int]:
    """Seconds from selecting ``task_id`` until its newest log page is on screen."""
    window = session.window
    model = window.task_view.log.model
    t0 = time.perf_counter()
    window.open_task(task_id)
    while model.rowCount() == 0:
        await asyncio.sleep(0.001)
    await next_turn()
    return time.perf_counter() - t0, model.rowCount()


async def bench(root: Path, keep: Path | None, tasks: int, lines: int) -> dict:
    home = keep or root / "history"
    marker = home / "biggest.txt"
    t_gen = time.perf_counter()
    if marker.exists():
        biggest = marker.read_text()
    else:
        biggest = generate(home, tasks, lines)
        marker.write_text(biggest)
    generated_s = time.perf_counter() - t_gen
    empty, empty_start = await start_app(root / "empty")
    await empty.close()
    session, start = await start_app(home)
    open_s, rows = await open_log(session, biggest)
    loaded = session.window.model.rowCount()
    await session.close()
    return {
        "benchmark": "history", "tasks": tasks, "log_lines": lines, "largest_log": min(BIGGEST, lines),
        "generate_s": round(generated_s, 1),
        "start_to_interactive_s": round(start, 3), "empty_start_s": round(empty_start, 3),
        "open_largest_log_ms": round(open_s * 1000, 1), "log_rows_shown": rows,
        "tasks_loaded_in_table": loaded,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "target_start_s": 1.5, "target_open_ms": 200,
        "ok": start < 1.5 and open_s < 0.2,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--keep", type=Path, help="generate into / reuse this directory")
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as tmp, loop:
        result = loop.run_until_complete(bench(Path(tmp), args.keep, args.tasks, args.lines))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
