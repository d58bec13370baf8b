"""What the bubblewrap sandbox costs a local task, confined against unconfined in one run.

Prints one JSON line:
- ``first_line_ms`` / ``first_line_unconfined_ms``: median and p95 of start-to-first-line
  (``LocalRuntime.start`` called → the sink holds the agent's first line) of
  ``sh -c 'echo first'``, over ``ROUNDS`` starts each, interleaved so both see the same
  machine load; ``added_ms``: the difference of the medians (goal: under 15 ms);
- ``queue_s`` / ``queue_unconfined_s``: a real engine's time to run ``QUEUE`` tasks
  (submit all → all succeeded, diff captured), the built-in ``shell`` profile against the
  same profile with ``sandbox = "none"``; ``queue_ratio`` (goal: within 1.1).
"""
from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentdeck.engine.models import AgentProfile, Stream, TaskState  # noqa: E402
from agentdeck.engine.runtimes.base import LaunchSpec  # noqa: E402
from agentdeck.engine.runtimes.local.runtime import LocalRuntime  # noqa: E402
from tests.engine.enginekit import make_repo, open_engine, wait_done  # noqa: E402

ROUNDS = 40
QUEUE = 50
OPEN_PROFILE = '[profiles.open]\nkind = "shell"\ncommand = ["sh", "-c", "{prompt}"]\nsandbox = "none"\n'


async def first_line(runtime: LocalRuntime, work: Path, profile: AgentProfile, n: int) -> float:
    """Seconds from `start` to the first line of one agent."""
    got = asyncio.Event()

    def sink(stream: Stream, lines: list[str], cursor: str) -> None:
        got.set()

    spec = LaunchSpec(f"b{n}-{profile.sandbox}", 1, ("sh", "-c", "echo first"), work, profile)
    began = time.perf_counter()
    sandbox = await runtime.start(spec, sink)
    await got.wait()
    elapsed = time.perf_counter() - began
    await sandbox.wait()
    await sandbox.cleanup()
    return elapsed


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median": round(statistics.median(ordered) * 1000, 2),
            "p95": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 2)}


async def starts(root: Path) -> dict[str, object]:
    work = root / "work"
    work.mkdir()
    runtime = LocalRuntime(root / "runs")
    confined, unconfined = AgentProfile("c"), AgentProfile("u", sandbox="none")
    times: dict[str, list[float]] = {"bwrap": [], "none": []}
    try:
        for profile in (confined, unconfined):  # warm-up: the first scan, page cache
            await first_line(runtime, work, profile, -1)
        for n in range(ROUNDS):
            for profile in (confined, unconfined) if n % 2 else (unconfined, confined):
                times[profile.sandbox].append(await first_line(runtime, work, profile, n))
    finally:
        await runtime.close()
    box, bare = _stats(times["bwrap"]), _stats(times["none"])
    return {"first_line_ms": box, "first_line_unconfined_ms": bare,
            "added_ms": round(box["median"] - bare["median"], 2)}


async def queue(root: Path, agent: str) -> float:
    home = root / f"home-{agent}"
    home.mkdir()
    (home / "agents.toml").write_text(OPEN_PROFILE)
    repo = make_repo(root / f"repo-{agent}")
    engine = await open_engine(home)
    try:
        began = time.perf_counter()
        tasks = [await engine.submit(repo, f"echo {i} > out.txt", agent=agent, runtime="local")
                 for i in range(QUEUE)]
        for task in tasks:
            done = await wait_done(engine, task.id, timeout=600)
            assert done.state == TaskState.SUCCEEDED, done.error
        return time.perf_counter() - began
    finally:
        await engine.close()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        result = await starts(root)
        unconfined = await queue(root, "open")
        confined = await queue(root, "shell")
    result.update(queue_s=round(confined, 2), queue_unconfined_s=round(unconfined, 2),
                  queue_ratio=round(confined / unconfined, 3))
    print(json.dumps({"benchmark": "local_sandbox", **result}))


if __name__ == "__main__":
    asyncio.run(main())
