"""Docker runtime: start latency and log throughput against the docker CLI, same run.

Prints one JSON line:
- start: median over 20 runs of `DockerRuntime.start()` → first line at the sink (a
  small git working copy is copied in each time) vs `docker run --rm IMAGE echo` run as
  a subprocess, interleaved with ours.
- throughput: one container printing 500k lines; lines/s through the runtime while it
  runs, through `attach()` re-reading the finished log, and `docker logs -f` of the same
  container (its output is discarded).
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

import docker  # noqa: E402

from agentdeck.engine.runtimes.docker.images import TEST_IMAGE, build_test_image  # noqa: E402
from agentdeck.engine.models import AgentProfile, Stream  # noqa: E402
from agentdeck.engine.runtimes.base import LaunchSpec  # noqa: E402
from agentdeck.engine.runtimes.docker.runtime import DockerRuntime, Endpoint  # noqa: E402

RUNS = 20
LINES = 500_000
ROOT = Path(__file__).resolve().parents[1]
PROFILE = AgentProfile(name="bench", image=TEST_IMAGE, memory="256m", cpus=1.0)


def make_workdir(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "README.md").write_text("bench\n")
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    return path


class FirstLine:
    def __init__(self) -> None:
        self.at: float | None = None
        self.lines = 0

    def __call__(self, stream: Stream, lines: list[str], cursor: str) -> None:
        if self.at is None:
            self.at = time.perf_counter()
        self.lines += len(lines)


async def one_start(rt: DockerRuntime, tmp: Path, n: int) -> float:
    spec = LaunchSpec(f"bench-start-{n}", 1, ("echo", "hi"), make_workdir(tmp / f"s{n}"), PROFILE)
    sink = FirstLine()
    started = time.perf_counter()
    sandbox = await rt.start(spec, sink)
    while sink.at is None:
        await asyncio.sleep(0.001)
    await sandbox.wait()
    await sandbox.cleanup()
    return sink.at - started


def cli_run() -> float:
    started = time.perf_counter()
    subprocess.run(["docker", "run", "--rm", TEST_IMAGE, "echo", "hi"], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


async def throughput(rt: DockerRuntime, tmp: Path) -> dict[str, float]:
    spec = LaunchSpec("bench-lines", 1, ("seq", "1", str(LINES)), make_workdir(tmp / "lines"),
                      PROFILE)
    live = FirstLine()
    started = time.perf_counter()
    sandbox = await rt.start(spec, live)
    await sandbox.wait()
    live_s = time.perf_counter() - started
    again = FirstLine()
    started = time.perf_counter()
    reread = await rt.attach(spec, sandbox.ref, None, again)
    await reread.wait()
    reread_s = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run(["docker", "logs", "-f", "-t", sandbox.ref.split("/")[1]], check=True,
                   stdout=subprocess.DEVNULL)
    cli_s = time.perf_counter() - started
    await sandbox.cleanup()
    assert live.lines == again.lines == LINES, (live.lines, again.lines)
    return {"lines": LINES, "runtime_live_lines_per_s": round(LINES / live_s),
            "runtime_reread_lines_per_s": round(LINES / reread_s),
            "docker_logs_f_lines_per_s": round(LINES / cli_s),
            "ratio_reread_vs_cli": round(cli_s / reread_s, 3)}


async def run(tmp: Path) -> dict[str, object]:
    rt = DockerRuntime([Endpoint("local", None, 4)], home=tmp / "home", image=TEST_IMAGE)
    ours, theirs = [], []
    for n in range(RUNS):
        ours.append(await one_start(rt, tmp, n))
        theirs.append(await asyncio.to_thread(cli_run))
    lines = await throughput(rt, tmp)
    await rt.close()
    start_ms, cli_ms = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
    return {"benchmark": "container_start",
            "start": {"runs": RUNS, "start_to_first_line_ms_median": round(start_ms, 1),
                      "docker_run_echo_ms_median": round(cli_ms, 1),
                      "ratio": round(start_ms / cli_ms, 3)},
            "throughput": lines}


def main() -> int:
    subprocess.run([str(ROOT / "scripts" / "ensure-docker.sh")], check=True)
    client = docker.from_env(version="auto")
    build_test_image(client)
    client.close()
    with tempfile.TemporaryDirectory(prefix="agentdeck-bench-") as tmp:
        result = asyncio.run(run(Path(tmp)))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
