"""Output Docker's log rotated away while agentdeck did not follow: one gap, said once,
with the times it lies between and no made-up count, and every line after it stored once.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agentdeck.engine.runtimes.docker.cursor import LogCursor
from agentdeck.engine.runtimes.docker.images import TEST_IMAGE
from agentdeck.engine.runtimes.docker.runtime import DockerRuntime, Endpoint
from tests.integration.conftest import (FLOOD, GAP_SCRIPT as SCRIPT, SMALL_LOG, Collector,
                                        daemon_log, remove_ours)

pytestmark = pytest.mark.docker



def runtime(home: Path) -> DockerRuntime:
    return DockerRuntime([Endpoint("local", None, 2)], home=home, image=TEST_IMAGE,
                         log_file_size=SMALL_LOG)


async def wait_for(predicate: Any, what: str) -> None:
    for _ in range(1200):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def home(tmp_path: Path, docker_client: Any):
    home = tmp_path / "home"
    yield home
    remove_ours(docker_client, str(home))


async def _start_then_go_away(home: Path, spec: Any, docker_client: Any
                              ) -> tuple[Any, Collector, Any]:
    """Start the script, store its first 500 lines, close the runtime (the container
    prints on): the sandbox, what was stored, the container."""
    first = runtime(home)
    stored = Collector()
    sandbox = await first.start(spec, stored)
    await wait_for(lambda: len(stored.out) == 500, "the first 500 lines")
    await first.close()
    return sandbox, stored, docker_client.containers.get(sandbox.ref.split("/", 1)[1])


async def test_output_rotated_away_while_not_following_is_one_gap_then_each_line_once(
        home: Path, make_spec: Any, docker_client: Any) -> None:
    spec = make_spec(SCRIPT)
    sandbox, stored, container = await _start_then_go_away(home, spec, docker_client)
    last_stored = LogCursor.decode(stored.cursor).stdout.ts_ns / 1e9
    container.exec_run(["touch", "/tmp/flood"])
    await wait_for(lambda: daemon_log(container)[-1][1].startswith(f"{500 + FLOOD} "),
                   "the flood")
    kept = daemon_log(container)
    assert int(kept[0][1].split()[0]) > 501, "the flood rotated the log past the follower"

    again = runtime(home)  # the engine is back: it resumes from the stored cursor
    resumed = Collector(lines=stored.lines, cursor=stored.cursor)
    await again.attach(spec, sandbox.ref, stored.cursor, resumed)
    await wait_for(lambda: len(stored.out) == 500 + len(kept), "the lines still in the log")
    await again.close()  # and goes away once more before the end
    container.exec_run(["touch", "/tmp/end"])
    await asyncio.to_thread(container.wait)

    last = runtime(home)
    final = Collector(lines=stored.lines, cursor=resumed.cursor)
    outcome = await (await last.attach(spec, sandbox.ref, resumed.cursor, final)).wait()
    await last.close()
    assert outcome.exit_code == 0
    assert stored.out == [str(i) for i in range(1, 501)] + [line for _, line in kept] + ["the end"]
    assert [(gap.after, gap.before, out) for gap, out, _ in resumed.lost] == [
        (last_stored, kept[0][0], 500)]
    assert final.lost == [] and stored.lost == []


async def test_a_container_that_flooded_and_ended_while_away_shows_the_gap_once(
        home: Path, make_spec: Any, docker_client: Any) -> None:
    spec = make_spec(SCRIPT)
    sandbox, stored, container = await _start_then_go_away(home, spec, docker_client)
    container.exec_run(["sh", "-c", "touch /tmp/flood /tmp/end"])
    await asyncio.to_thread(container.wait)
    kept = daemon_log(container)

    later = runtime(home)
    resumed = Collector(lines=stored.lines, cursor=stored.cursor)
    outcome = await (await later.attach(spec, sandbox.ref, stored.cursor, resumed)).wait()
    await later.close()
    assert outcome.exit_code == 0 and int(kept[0][1].split()[0]) > 501
    assert stored.out == [str(i) for i in range(1, 501)] + [line for _, line in kept]
    assert [(gap.before, out) for gap, out, _ in resumed.lost] == [(kept[0][0], 500)]
