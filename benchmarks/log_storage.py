"""Log storage on disk against the raw size of the log, through the engine's store.

50 tasks write 20 000 lines each, interleaved in runs of 100 (as a flood reaches the
store) and, for a tenth of the lines of five tasks, one line a commit (quiet agents). Measured in the
same run for two kinds of text — log-like lines (words, paths, numbers) and random
base64 (what compression cannot shrink) — and printed as one JSON line:

- raw_bytes: the lines' UTF-8 text plus a newline each;
- stored_ratio: database file + WAL once the store closed, over raw_bytes (goal ≤ 1.3);
- peak_ratio: the largest database + WAL seen while writing, over raw_bytes;
- rows_ratio: the same lines as one row each (the schema before chunks), for reference.
"""
from __future__ import annotations

import base64
import json
import random
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentdeck.engine.models import EntryKind, LogEntry, Stream  # noqa: E402
from agentdeck.engine.store import db as st  # noqa: E402

TASKS = 50
LINES_PER_TASK = 20_000
RUN = 100
GOAL = 1.3
WORDS = [f"{a}{b}" for a in ("load", "pars", "comp", "test", "link", "fetch", "writ", "read")
         for b in ("ing", "ed", "er", "s", "", "able", "ion", "or")]


def log_like(rng: random.Random, seq: int) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
    return (f"2026-12-03T13:{seq // 60000 % 60:02d}:{seq // 1000 % 60:02d}.{seq % 1000:03d}Z "
            f"{rng.choice(('INFO', 'DEBUG', 'WARN'))} src/pkg{rng.randint(0, 40)}/mod"
            f"{rng.randint(0, 300)}.py:{rng.randint(1, 2000)} {words} id={rng.getrandbits(32):x}")


def random_text(rng: random.Random, seq: int) -> str:
    return f"{seq} " + base64.b64encode(rng.randbytes(rng.randint(30, 90))).decode()


def batches(make: object) -> list[list[LogEntry]]:
    """Runs of 100 lines per task, round robin; every tenth run of the first five tasks
    comes one line a batch."""
    rng = random.Random(7)
    seqs = [1] * TASKS
    out: list[list[LogEntry]] = []
    for run in range(LINES_PER_TASK // RUN):
        for task in range(TASKS):
            lines = [LogEntry(f"task{task:02d}", seqs[task] + i, time.time(), 1, Stream.STDOUT,
                              EntryKind.RAW, make(rng, seqs[task] + i), None)  # type: ignore[operator]
                     for i in range(RUN)]
            seqs[task] += RUN
            out.extend([[e] for e in lines] if run % 10 == 9 and task < 5 else [lines])
    return out


def files_size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal"))
               if p.exists())


def stored(path: Path, work: list[list[LogEntry]]) -> tuple[int, int]:
    """(size once closed, peak size while writing) of the store holding ``work``."""
    peak = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, files_size(path))
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    store = st.Store(path)
    watcher.start()
    for batch in work:
        store.append_logs(batch)
        if len(batch) == 1:
            store.flush()  # a quiet agent's line is committed on its own
    store.close()
    done.set()
    watcher.join()
    return files_size(path), max(peak, files_size(path))


def as_rows(path: Path, work: list[list[LogEntry]]) -> int:
    """The size of the same lines as one row each in the schema before chunks."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE logs (task_id TEXT NOT NULL, seq INTEGER NOT NULL, ts REAL NOT"
                 " NULL, attempt INTEGER NOT NULL, stream TEXT NOT NULL, kind TEXT NOT NULL,"
                 " text TEXT NOT NULL, data TEXT)")
    conn.execute("CREATE UNIQUE INDEX logs_task_seq ON logs (task_id, seq)")
    for i in range(0, len(work), 50):
        conn.execute("BEGIN")
        for batch in work[i:i + 50]:
            conn.executemany("INSERT INTO logs VALUES (?,?,?,?,?,?,?,?)", batch)
        conn.execute("COMMIT")
    conn.close()
    return path.stat().st_size


def measure(tmp: Path, name: str, make: object) -> dict:
    work = batches(make)
    raw = sum(len(e.text.encode()) + 1 for batch in work for e in batch)
    size, peak = stored(tmp / f"{name}.sqlite3", work)
    rows = as_rows(tmp / f"{name}-rows.sqlite3", work)
    return {"lines": sum(map(len, work)), "raw_bytes": raw, "stored_bytes": size,
            "stored_ratio": round(size / raw, 3), "peak_ratio": round(peak / raw, 3),
            "rows_ratio": round(rows / raw, 3), "goal_ratio": GOAL,
            "reached": size / raw <= GOAL and peak / raw <= GOAL}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        result = {"benchmark": "log_storage",
                  "log_like": measure(Path(tmp), "log_like", log_like),
                  "random_base64": measure(Path(tmp), "random", random_text)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
