"""Re-attaching after an engine restart, errors in plain words, orphan removal."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agentdeck.engine.errors import RuntimeUnavailable
from agentdeck.engine.runtimes.docker.images import TEST_IMAGE
from agentdeck.engine.models import Stream
from agentdeck.engine.runtimes.docker.runtime import DockerRuntime, Endpoint
from agentdeck.engine.runtimes.docker.cursor import LogCursor, LogPosition
from tests.integration.conftest import Collector

pytestmark = pytest.mark.docker

#: Output in bursts with a long line (several log messages) and a last line without newline.
BURSTS = """
i=0; while [ $i -lt 4000 ]; do echo "a $i"; echo "e $i" >&2; i=$((i+1)); done
head -c 40000 /dev/zero | tr '\\0' x; echo
sleep 1
i=0; while [ $i -lt 4000 ]; do echo "b $i"; echo "f $i" >&2; i=$((i+1)); done
printf 'the end'
"""


def docker_log(client: Any, ref: str, stream: Stream) -> list[str]:
    container = client.containers.get(ref.split("/", 1)[1])
    text = container.logs(stdout=stream is Stream.STDOUT, stderr=stream is Stream.STDERR)
    return text.decode().split("\n")


def local_runtime(home: Path) -> DockerRuntime:
    return DockerRuntime([Endpoint("local", None, 4)], home=home, image=TEST_IMAGE)


async def test_resume_after_an_engine_kill_stores_the_exact_container_log(
        runtime: DockerRuntime, make_spec: Any, docker_client: Any, tmp_path: Path) -> None:
    spec = make_spec(BURSTS)
    stored = Collector()
    sandbox = await runtime.start(spec, stored)
    while len(stored.out) < 1000:  # kill it mid-stream, while lines are flowing
        await asyncio.sleep(0.01)
    stored.cut = True  # what reached the store before the "kill -9" is all that is left
    await runtime.close()
    assert 1000 <= len(stored.out) < 8000

    later = local_runtime(tmp_path / "home")
    resumed = Collector(lines=stored.lines, cursor=stored.cursor)
    again = await later.attach(spec, sandbox.ref, stored.cursor, resumed)
    outcome = await again.wait()
    await later.close()
    assert outcome.exit_code == 0
    assert stored.out == docker_log(docker_client, sandbox.ref, Stream.STDOUT)
    assert stored.err == docker_log(docker_client, sandbox.ref, Stream.STDERR)[:-1]
    assert stored.out[-1] == "the end" and len(stored.out) == 8002
    assert resumed.lost == []  # the log still held where we were: nothing is said lost


async def test_attach_to_a_container_that_finished_while_away(
        runtime: DockerRuntime, make_spec: Any, docker_client: Any, tmp_path: Path) -> None:
    spec = make_spec("echo one; sleep 1; echo two; exit 3")
    stored = Collector()
    sandbox = await runtime.start(spec, stored)
    while not stored.out:
        await asyncio.sleep(0.01)
    await runtime.close()
    container = docker_client.containers.get(sandbox.ref.split("/", 1)[1])
    await asyncio.to_thread(container.wait)

    later = local_runtime(tmp_path / "home")
    again = await later.attach(spec, sandbox.ref, stored.cursor, stored)
    outcome = await again.wait()
    await later.close()
    assert outcome.exit_code == 3 and stored.out == ["one", "two"]


async def test_attach_to_a_removed_container_reports_it_lost(
        runtime: DockerRuntime, make_spec: Any) -> None:
    spec = make_spec("echo hi")
    sandbox = await runtime.start(spec, Collector())
    await sandbox.wait()
    await sandbox.cleanup()
    again = await runtime.attach(spec, sandbox.ref, None, Collector())
    outcome = await again.wait()
    assert outcome.lost and "is gone" in (outcome.reason or "")


async def test_check_names_the_missing_image_and_the_command_that_builds_it(
        docker_client: Any, tmp_path: Path, make_spec: Any) -> None:
    rt = DockerRuntime(home=tmp_path, image="agentdeck-missing:latest")
    with pytest.raises(RuntimeUnavailable, match="agentdeck image build --offline"):
        await rt.check()
    with pytest.raises(RuntimeUnavailable, match="agentdeck-missing:latest is missing"):
        await rt.start(make_spec("true", image="agentdeck-missing:latest"), Collector())
    await rt.close()


async def test_check_says_a_daemon_is_not_running_and_how_to_start_it(
        tmp_path: Path, make_spec: Any) -> None:
    rt = DockerRuntime([Endpoint("nowhere", f"unix://{tmp_path}/docker.sock", 2)], home=tmp_path,
                       image=TEST_IMAGE)
    with pytest.raises(RuntimeUnavailable, match="nowhere .*does not answer.*systemctl start docker"):
        await rt.check()
    assert rt.free_slots() == 0  # a daemon that did not answer offers no slots
    with pytest.raises(RuntimeUnavailable, match="does not answer"):
        await rt.start(make_spec("true"), Collector())
    await rt.close()


async def test_remove_orphans_removes_only_our_unknown_containers(
        runtime: DockerRuntime, make_spec: Any, docker_client: Any) -> None:
    known, orphan = make_spec("sleep 30"), make_spec("sleep 30")
    kept = await runtime.start(known, Collector())
    lost = await runtime.start(orphan, Collector())
    foreign = docker_client.containers.create(
        TEST_IMAGE, ["true"], labels={"agentdeck.task": orphan.task_id,
                                      "agentdeck.home": "/some/other/home"})
    try:
        ours = {c.task_id: c for c in await runtime.list_ours()}
        assert set(ours) == {known.task_id, orphan.task_id}
        assert ours[known.task_id].ref == kept.ref and ours[known.task_id].status == "running"
        removed = await runtime.remove_orphans({known.task_id})
        assert removed == [ours[orphan.task_id].name]
        assert [c.task_id for c in await runtime.list_ours()] == [known.task_id]
        ended = await lost.wait()  # killed by the removal
        assert ended.exit_code == 137 or ended.lost
        foreign.reload()  # still there: not ours
    finally:
        foreign.remove(force=True)
    await kept.stop(grace=1)


async def test_a_container_the_daemon_refuses_is_explained_and_the_endpoint_stays_up(
        runtime: DockerRuntime, make_spec: Any) -> None:
    with pytest.raises(RuntimeUnavailable, match="refused to create agentdeck-.*Minimum memory limit"):
        await runtime.start(make_spec("true", memory="1m"), Collector())
    assert runtime.free_slots() == 8


async def test_a_silent_stream_does_not_hold_a_resume_back_to_the_start(
        runtime: DockerRuntime, make_spec: Any, docker_client: Any, tmp_path: Path) -> None:
    spec = make_spec("seq 1 3000; sleep 2.5; echo last")
    stored = Collector()
    sandbox = await runtime.start(spec, stored)
    while len(stored.out) < 3000:
        await asyncio.sleep(0.05)
    stored.cut = True
    await runtime.close()
    cursor = LogCursor.decode(stored.cursor)
    assert cursor.stderr == LogPosition() and cursor.scan_ns > 0  # stderr never wrote

    later = local_runtime(tmp_path / "home")
    resumed = Collector(lines=stored.lines, cursor=stored.cursor)
    again = await later.attach(spec, sandbox.ref, stored.cursor, resumed)
    assert (await again.wait()).exit_code == 0
    await later.close()
    assert stored.out == [str(i) for i in range(1, 3001)] + ["last"]
    assert resumed.lost == []
