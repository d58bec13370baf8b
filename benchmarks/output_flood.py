"""One local agent floods its output: the engine's memory, the database size, the rate.

A real engine (in this process, local runtime, confined as by default) runs one task
whose agent writes ``--mb`` MB of log lines as fast as it can. Prints one JSON line:

- ``rss_growth_mb``: this process's peak resident memory during the task minus before it
  (sampled every 20 ms); the aim is flat (tens of MB, whatever ``--mb`` is);
- ``db_mb``: database + WAL size after the task; at most about the per-task cap
  (``--cap-mb``, default the engine's 256 MiB) plus SQLite's overhead per row;
- ``stored_lines``, ``dropped_bytes`` (from the engine's "output truncated" entry) and
  ``lines_per_s``: lines the engine took (stored or counted as dropped) per second of the
  task's run, against ``raw_file_lines_per_s``: the same command writing the same bytes
  straight to a file (the reference, same run). Past 256 MiB per stream the local
  runtime's supervisor already drops the output before the disk, so with a bigger
  ``--mb`` the engine takes only that much.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.ingest import make_repo  # noqa: E402
from agentdeck.engine.store import db as st  # noqa: E402
from agentdeck.engine.api import Engine  # noqa: E402
from agentdeck.engine.logs.sink import MAX_LOG_SETTING  # noqa: E402
from agentdeck.engine.models import TaskState  # noqa: E402

LINE = "2026-11-25T03:00:00Z INFO worker: processed item with a typical log payload"


def flood_script(mb: int) -> str:
    return f'yes "{LINE}" | head -c {mb * 1_000_000}'


class PeakRss(threading.Thread):
    """Samples this process's RSS until stopped; keeps the highest."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self._proc = psutil.Process()
        self.base = self.peak = self._proc.memory_info().rss
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.02):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def stop(self) -> int:
        """Peak growth in bytes."""
        self._halt.set()
        self.join()
        return self.peak - self.base


def raw_file_seconds(script: str, path: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["sh", "-c", f"{script} > {path}"], check=True)
    return time.perf_counter() - started


async def flood(home: Path, repo: Path, script: str, cap_mb: int | None) -> dict:
    engine = await Engine.open(home, default_runtime="local")
    try:
        if cap_mb is not None:
            await engine.update_settings(**{MAX_LOG_SETTING: cap_mb << 20})
        rss = PeakRss()
        rss.start()
        task = await engine.submit(repo, script, runtime="local")
        while not (task := await engine.get_task(task.id)).state.is_terminal:
            await asyncio.sleep(0.05)
        await asyncio.to_thread(engine.store.flush)
        growth = rss.stop()
        entries = await engine.get_logs(task.id, limit=None)
    finally:
        await engine.close()
    dropped = [int(m.group(1)) for e in entries
               if (m := re.search(r"output truncated: (\d+) bytes dropped", e.text))]
    assert task.state == TaskState.SUCCEEDED, task.error
    db = sum(p.stat().st_size for p in home.glob(st.db_path(home).name + "*"))
    return {"rss_growth_mb": round(growth / 1e6, 1), "db_mb": round(db / 1e6, 1),
            "stored_lines": sum(e.stream.value == "stdout" for e in entries),
            "dropped_bytes": dropped[-1] if dropped else 0,
            "seconds": task.finished_at - task.started_at}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1000, help="MB the agent prints")
    parser.add_argument("--cap-mb", type=int, help="per-task log cap (MiB)")
    args = parser.parse_args()
    script = flood_script(args.mb)
    lines = args.mb * 1_000_000 // (len(LINE) + 1)
    with tempfile.TemporaryDirectory(prefix="agentdeck-bench-") as tmp:
        root = Path(tmp)
        repo = make_repo(root / "repo")
        raw = raw_file_seconds(script, root / "raw.log")
        (root / "raw.log").unlink()
        result = await flood(root / "home", repo, script, args.cap_mb)
    seconds = result.pop("seconds")
    # What reached the engine: the local runtime's own per-stream cap drops the rest of a
    # flood before it reaches the disk (its marker line is then the engine's last line).
    taken = result["stored_lines"] + result["dropped_bytes"] // (len(LINE) + 1)
    print(json.dumps({"benchmark": "output_flood", "mb": args.mb, **result,
                      "lines_per_s": round(taken / seconds),
                      "raw_file_lines_per_s": round(lines / raw),
                      "vs_raw_file": round(taken / seconds / (lines / raw), 3)}))


if __name__ == "__main__":
    asyncio.run(main())
