"""Local runtime tailing: throughput from 50 flat-out agents and event loop lag at 50k lines/s.

Prints one JSON line:
- ``lines_per_s``: lines handed to a counting sink while 50 agents (``yes | head``) print
  as fast as they can, from the go signal until every ``wait()`` returned;
- ``cat_lines_per_s``: the same files read by ``cat`` (the reference, same run, warm cache);
- ``lag_p99_ms`` / ``lag_max_ms``: event loop lag (a 5 ms sleeper's overshoot) while 50
  agents print 1 000 lines/s each, tailed; ``untailed_lag_p99_ms``: the same agents
  writing to /dev/null, not tailed (the reference); ``engine_cpu_share``: CPU of this
  process (reader thread + loop) per second of wall time while tailing them.
"""
from __future__ import annotations

import asyncio
import fcntl
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentdeck.engine.models import AgentProfile, Stream
from agentdeck.engine.runtimes.base import LaunchSpec
from agentdeck.engine.runtimes.local.runtime import LocalRuntime, LocalSandbox

AGENTS = 50
LINES_EACH = 60_000
LINE = "2026-11-25T03:00:00Z INFO worker: processed item with a typical log payload"
STEADY_RATE = 1_000      # lines/s per agent in the lag phase
STEADY_SECONDS = 5.0

_STEADY = """
import sys, time
rate, seconds = int(sys.argv[1]), float(sys.argv[2])
tick, i, t0 = 0.01, 0, time.monotonic()
while time.monotonic() - t0 < seconds:
    sys.stdout.write("".join(f"steady line {i + k} with some text\\n" for k in range(int(rate * tick))))
    sys.stdout.flush()
    i += int(rate * tick)
    time.sleep(tick)
"""


class Counter:
    def __init__(self) -> None:
        self.lines = 0

    def __call__(self, stream: Stream, lines: list[str], cursor: str) -> None:
        self.lines += len(lines)


async def _run_all(root: Path, argvs: list[list[str]], sink: Counter) -> tuple[list[LocalSandbox], LocalRuntime]:
    runtime = LocalRuntime(root / "runs")
    work = root / "work"
    work.mkdir(exist_ok=True)
    try:
        # Unconfined: this measures tailing (the gate file lies outside any working copy);
        # benchmarks/local_sandbox.py measures what the sandbox costs.
        profile = AgentProfile("b", sandbox="none")
        sandboxes = [await runtime.start(LaunchSpec(f"a{i}", 1, tuple(argv), work, profile), sink)
                     for i, argv in enumerate(argvs)]
        return sandboxes, runtime
    except BaseException:
        await runtime.close()
        raise


async def throughput(root: Path) -> dict[str, float]:
    gate = root / "gate"
    # The agents block on a lock we hold until all of them run: the clock starts when we
    # let go of it, so supervisor start-up is not part of the figure.
    script = f'flock -s {gate} true; yes "{LINE}" | head -n {LINES_EACH}'
    sink = Counter()
    with open(gate, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sandboxes, runtime = await _run_all(root, [["sh", "-c", script]] * AGENTS, sink)
        started = time.perf_counter()
    try:
        for sandbox in sandboxes:
            await sandbox.wait()
        elapsed = time.perf_counter() - started
    finally:
        await runtime.close()
    assert sink.lines == AGENTS * LINES_EACH, sink.lines
    files = sorted(str(p) for p in (root / "runs").rglob("stdout.log"))
    started = time.perf_counter()
    subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)
    cat_elapsed = time.perf_counter() - started
    return {"lines_per_s": round(sink.lines / elapsed), "cat_lines_per_s": round(sink.lines / cat_elapsed),
            "mb": round(sum(Path(f).stat().st_size for f in files) / 1e6)}


async def _lag(seconds: float, period: float = 0.005) -> list[float]:
    lags = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        before = time.perf_counter()
        await asyncio.sleep(period)
        lags.append(time.perf_counter() - before - period)
    return lags


def _p99(values: list[float]) -> float:
    return round(statistics.quantiles(values, n=100)[98] * 1000, 2)


async def lag(root: Path) -> dict[str, float]:
    """Loop lag while 50 agents print steadily: tailed by the runtime, and (reference)
    the same agents writing to /dev/null with nothing tailing them."""
    argv = [sys.executable, "-c", _STEADY, str(STEADY_RATE), str(STEADY_SECONDS)]
    plain = [subprocess.Popen(argv, stdout=subprocess.DEVNULL) for _ in range(AGENTS)]
    untailed = await _lag(STEADY_SECONDS - 1.0)
    for proc in plain:
        proc.wait()
    sink = Counter()
    sandboxes, runtime = await _run_all(root / "steady", [argv] * AGENTS, sink)
    try:
        cpu = time.process_time()
        busy = await _lag(STEADY_SECONDS - 1.0)
        cpu = time.process_time() - cpu
        for sandbox in sandboxes:
            await sandbox.wait()
    finally:
        await runtime.close()
    return {"lag_p99_ms": _p99(busy), "lag_max_ms": round(max(busy) * 1000, 2),
            "untailed_lag_p99_ms": _p99(untailed), "engine_cpu_share": round(cpu / (STEADY_SECONDS - 1.0), 3),
            "steady_lines": sink.lines}


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="agentdeck-bench-") as tmp:
        root = Path(tmp)
        result = {"benchmark": "local_tail", "agents": AGENTS, "lines": AGENTS * LINES_EACH}
        result |= await throughput(root)
        result["vs_cat"] = round(result["lines_per_s"] / result["cat_lines_per_s"], 4)
        (root / "steady").mkdir()
        result |= await lag(root)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
