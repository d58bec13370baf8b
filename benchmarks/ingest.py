"""Log ingest through the full engine path (local runtime → bus → store).

Prints one JSON line:
- throughput: 50 agents printing as fast as they can; stored lines/s vs the raw SQLite
  batched-insert rate on the same schema measured in this run (aim: ratio >= 0.3).
- responsiveness: 50 agents at 1 000 lines/s each; event-loop lag of a 5 ms sleep probe
  while at least 80 % of them stream (aim: p99 < 10 ms), and lines lost (must be 0).
"""
from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentdeck.engine.store import db as st  # noqa: E402
from agentdeck.engine.api import Engine  # noqa: E402
from agentdeck.engine.events import LogAppended  # noqa: E402
from agentdeck.engine.models import TaskState  # noqa: E402

AGENTS = 50
FAST_LINES = 60_000
PACED_SECONDS = 30  # long enough that all agents overlap after a slow start-up
PACED_RATE = 1_000
LINE = "x" * 72
#: Lag counts while at least this share of the agents runs (start-up is git checkouts and
#: process spawns, the end is agents finishing one by one).
BUSY_SHARE = 0.8

FAST = f"python3 -c \"import sys; sys.stdout.write(''.join('%d {LINE}\\n' % i for i in range({FAST_LINES})))\""
PACED = ("python3 -c \"import sys,time\n"
         f"t=time.time()\nfor s in range({PACED_SECONDS * 10}):\n"
         f"    sys.stdout.write(''.join('%d {LINE}\\n' % (s*100+i) for i in range(100))); sys.stdout.flush()\n"
         "    time.sleep(max(0, t + (s+1)/10 - time.time()))\"")


def make_repo(path: Path) -> Path:
    path.mkdir()
    for args in (["init", "-q"], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q",
                                   "--allow-empty", "-m", "init"]):
        subprocess.run(["git", "-C", str(path), *args], check=True)
    return path


def raw_rate(path: Path, rows: int = 500_000) -> float:
    """Batched inserts (1 000 rows a transaction) straight into the same logs table, with
    the same mix the engine sees: 50 tasks, their lines interleaved in runs of 100."""
    s = st.Store(path)
    s.close()
    conn = st.connect(path)
    data = [(f"task{(i // 100) % AGENTS}", i, time.time(), 1, "stdout", "raw", f"{i} {LINE}", None)
            for i in range(rows)]
    t0 = time.perf_counter()
    for i in range(0, rows, 1000):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO logs VALUES (?,?,?,?,?,?,?,?)", data[i:i + 1000])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return rows / elapsed


async def run_agents(home: Path, repo: Path, script: str, probe: bool) -> dict:
    """Run AGENTS copies of ``script``; with ``probe``, sample loop lag throughout and
    keep the samples taken while nearly all agents streamed at once (`BUSY_SHARE`)."""
    engine = await Engine.open(home, max_parallel=AGENTS, default_runtime="local")
    first: list[float] = []
    engine.bus.subscribe(lambda e: first.append(time.perf_counter())
                         if isinstance(e, LogAppended) and not first else None)
    lags: list[float] = []
    stop = asyncio.Event()
    running = [0, 0]  # now, peak

    async def count_loop() -> None:
        while not stop.is_set():
            running[0] = (await engine.counts())["running"]
            running[1] = max(running)
            await asyncio.sleep(0.1)

    async def probe_loop() -> None:
        while not stop.is_set():
            busy = running[0] >= BUSY_SHARE * AGENTS
            t = time.perf_counter()
            await asyncio.sleep(0.005)
            if busy:
                lags.append((time.perf_counter() - t - 0.005) * 1000)

    prober = asyncio.gather(probe_loop(), count_loop()) if probe else None
    ids = [(await engine.submit(repo, script, runtime="local")).id for _ in range(AGENTS)]
    while not all(t.state.is_terminal for t in await engine.list_tasks()):
        await asyncio.sleep(0.02)
    engine.store.flush()
    done = time.perf_counter()
    stop.set()
    if prober:
        await prober
    stored = sum(engine.store.log_count(i) for i in ids)
    failed = [t.error for t in await engine.list_tasks() if t.state != TaskState.SUCCEEDED]
    await engine.close()
    return {"stored": stored, "seconds": done - first[0], "lags": lags, "failed": failed,
            "peak_running": running[1]}


async def system_lines(home: Path, repo: Path) -> int:
    """The lines the engine itself writes into a task's log (attempt start, end...):
    those of a task whose agent prints nothing."""
    engine = await Engine.open(home, default_runtime="local")
    task = await engine.submit(repo, "true", runtime="local")
    while not (await engine.get_task(task.id)).state.is_terminal:
        await asyncio.sleep(0.02)
    engine.store.flush()
    count = engine.store.log_count(task.id)
    await engine.close()
    return count


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        repo = make_repo(tmp_path / "repo")
        raw = raw_rate(tmp_path / "raw.sqlite3")
        fast = await run_agents(tmp_path / "h1", repo, FAST, probe=False)
        paced = await run_agents(tmp_path / "h2", repo, PACED, probe=True)
        own = AGENTS * await system_lines(tmp_path / "h0", repo)
    rate = (fast["stored"] - own) / fast["seconds"]
    expected_paced = AGENTS * PACED_SECONDS * PACED_RATE
    print(json.dumps({
        "benchmark": "ingest",
        "throughput": {"agents": AGENTS, "lines": fast["stored"] - own,
                       "stored_lines_per_s": round(rate), "raw_sqlite_rows_per_s": round(raw),
                       "ratio": round(rate / raw, 3), "aim_ratio": 0.3,
                       "failed_tasks": len(fast["failed"])},
        "responsiveness": {"agents": AGENTS, "offered_lines_per_s": AGENTS * PACED_RATE,
                           "lag_ms_p50": round(statistics.median(paced["lags"] or [0.0]), 2),
                           "lag_ms_p99": round(percentile(paced["lags"], 0.99), 2),
                           "lag_ms_max": round(max(paced["lags"], default=0.0), 2),
                           "lag_samples": len(paced["lags"]),
                           "peak_running": paced["peak_running"], "aim_p99_ms": 10,
                           "lines_lost": expected_paced - (paced["stored"] - own),
                           "failed_tasks": len(paced["failed"])},
    }))


if __name__ == "__main__":
    asyncio.run(main())
