"""A container's output flood on Docker: every line stored once, even when the daemon's
log file rotates many times over while the engine reads it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentdeck.engine.runtimes.docker.images import TEST_IMAGE
from agentdeck.engine.runtimes.docker.runtime import DockerRuntime, Endpoint
from tests.integration.conftest import Collector, remove_ours

pytestmark = pytest.mark.docker

#: The container's json-file log rotates at this size (4 files kept, 40 MB): 400 000
#: lines of 100 bytes (≈ 70 MB of json) rotate it 7 times. (The pacer lets the output
#: run a few MB ahead of our reading: a much smaller log would rotate past us anyway.)
SMALL_LOG = "10m"
LINES = 400_000
PAD = "x" * 91
FLOOD = f"awk 'BEGIN {{ for (i = 1; i <= {LINES}; i++) printf \"%08d {PAD}\\n\", i }}'"


@pytest.fixture
async def small_log_runtime(docker_client: Any, tmp_path: Path):
    home = tmp_path / "home"
    rt = DockerRuntime([Endpoint("local", None, max_parallel=2)], home=home, image=TEST_IMAGE,
                       log_file_size=SMALL_LOG)
    yield rt
    await rt.close()
    remove_ours(docker_client, str(home))


async def test_a_flood_that_rotates_the_log_many_times_arrives_whole(
        small_log_runtime: DockerRuntime, make_spec: Any) -> None:
    sink = Collector()
    sandbox = await small_log_runtime.start(make_spec(FLOOD), sink)
    assert (await sandbox.wait()).exit_code == 0
    assert len(sink.out) == LINES
    assert sink.out == [f"{i:08d} {PAD}" for i in range(1, LINES + 1)]
    assert sink.lost == []  # paced: the log never rotated past us
    await sandbox.cleanup()


async def test_lines_docker_splits_are_stored_once_each(
        small_log_runtime: DockerRuntime, make_spec: Any) -> None:
    # 40 000-byte lines: Docker logs each as three messages (16 KiB pieces, all
    # different); 1500 of them rotate the log 6 times.
    script = ("awk 'BEGIN { s = \"\"; for (j = 0; j < 4000; j++) s = s sprintf(\"%09d|\", j);"
              " for (i = 0; i < 1500; i++) print s \" \" i }'")
    sink = Collector()
    sandbox = await small_log_runtime.start(make_spec(script), sink)
    assert (await sandbox.wait()).exit_code == 0
    body = "".join(f"{j:09d}|" for j in range(4000))
    wrong = [(i, len(line), line[-12:]) for i, line in enumerate(sink.out)
             if line != f"{body} {i}"]
    assert (len(sink.out), wrong[:5], sink.lost) == (1500, [], [])
    await sandbox.cleanup()
