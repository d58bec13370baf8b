"""DockerRuntime against the real daemon: parallel tasks, hardening, OOM, resume, stop."""
from __future__ import annotations

import asyncio
import subprocess
from dataclasses import replace
from typing import Any

import docker.errors
import pytest

from agentdeck.engine.runtimes.docker.images import build_test_image, busybox_rootfs_tar
from agentdeck.engine.runtimes.base import MAX_LINE_BYTES, cut_marker
from agentdeck.engine.runtimes.docker.runtime import DockerRuntime
from tests.integration.conftest import Collector

pytestmark = pytest.mark.docker

TASK = """
echo start $TASK_NAME
i=0; while [ $i -lt 1500 ]; do echo "$TASK_NAME out $i"; echo "$TASK_NAME err $i" >&2; i=$((i+1)); done
echo changed > README.md; mkdir -p new; echo made > new/file.txt; rm src/main.py
echo end $TASK_NAME
"""


def container_of(client: Any, sandbox: Any) -> Any:
    return client.containers.get(sandbox.ref.split("/", 1)[1])


async def test_eight_parallel_tasks_stream_complete_logs_and_bring_files_back(
        runtime: DockerRuntime, make_spec: Any) -> None:
    specs = [replace(make_spec(TASK), env={"TASK_NAME": f"task{n}"}) for n in range(8)]
    sinks = [Collector() for _ in specs]
    sandboxes = await asyncio.gather(*(runtime.start(s, k) for s, k in zip(specs, sinks)))
    assert runtime.free_slots() == 0
    outcomes = await asyncio.gather(*(sb.wait() for sb in sandboxes))
    assert runtime.free_slots() == 8
    for n, (spec, sink, sandbox, outcome) in enumerate(zip(specs, sinks, sandboxes, outcomes)):
        assert outcome.exit_code == 0 and outcome.reason is None
        name = f"task{n}"
        assert sink.out == [f"start {name}", *(f"{name} out {i}" for i in range(1500)),
                            f"end {name}"]
        assert sink.err == [f"{name} err {i}" for i in range(1500)]
        await sandbox.collect()
        await sandbox.cleanup()
        work = spec.workdir
        assert (work / "README.md").read_text() == "changed\n"
        assert (work / "new" / "file.txt").read_text() == "made\n"
        assert not (work / "src" / "main.py").exists()
        status = subprocess.run(["git", "status", "--porcelain"], cwd=work, check=True,
                                capture_output=True, text=True).stdout.split("\n")
        assert " M README.md" in status and " D src/main.py" in status


async def test_container_runs_unprivileged_offline_and_limited(
        runtime: DockerRuntime, make_spec: Any, docker_client: Any) -> None:
    script = ("id -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; "
              "nc -w 2 172.17.0.1 2375 </dev/null; echo net=$?; "
              "ls /var/run/docker.sock 2>/dev/null; echo secret=${API_KEY:+set}")
    spec = replace(make_spec(script, pids=64), env={"API_KEY": "sk-very-secret"})
    sink = Collector()
    sandbox = await runtime.start(spec, sink)
    outcome = await sandbox.wait()
    assert outcome.exit_code == 0
    assert sink.out[0] == "1000"
    assert "CapEff:\t0000000000000000" in sink.out
    assert "NoNewPrivs:\t1" in sink.out
    assert sink.out[-2:] == ["net=1", "secret=set"]  # no docker.sock line between them
    host = container_of(docker_client, sandbox).attrs["HostConfig"]
    assert host["NetworkMode"] == "none" and host["CapDrop"] == ["ALL"] and host["Init"]
    assert host["Memory"] == 64 << 20 and host["PidsLimit"] == 64
    assert host["NanoCpus"] == 1_000_000_000
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert not host.get("Binds")
    assert "sk-very-secret" not in (sink.cursor or "") + sandbox.ref
    await sandbox.cleanup()


async def test_memory_hog_is_reported_oom_killed(runtime: DockerRuntime, make_spec: Any) -> None:
    spec = make_spec("echo filling; dd if=/dev/zero of=/dev/null bs=64M count=1", memory="32m")
    sandbox = await runtime.start(spec, Collector())
    outcome = await sandbox.wait()
    assert outcome.oom_killed and outcome.exit_code == 137
    assert outcome.reason == "out of memory: the container hit its 32m limit"
    await sandbox.cleanup()


async def test_long_lines_are_cut_and_a_last_line_without_newline_is_kept(
        runtime: DockerRuntime, make_spec: Any) -> None:
    script = ("head -c 100000 /dev/zero | tr '\\0' a; echo; "
              "head -c 40000 /dev/zero | tr '\\0' b; echo; printf 'no newline'")
    sink = Collector()
    sandbox = await runtime.start(make_spec(script), sink)
    assert (await sandbox.wait()).exit_code == 0
    assert sink.out == ["a" * MAX_LINE_BYTES + cut_marker(100000 - MAX_LINE_BYTES),
                        "b" * 40000, "no newline"]
    await sandbox.cleanup()


async def test_stop_terminates_the_container(runtime: DockerRuntime, make_spec: Any) -> None:
    sink = Collector()
    sandbox = await runtime.start(make_spec("echo up; sleep 300"), sink)
    while not sink.out:
        await asyncio.sleep(0.05)
    await sandbox.stop(grace=2)
    outcome = await asyncio.wait_for(sandbox.wait(), 15)
    assert outcome.exit_code in (143, 137) and not outcome.oom_killed
    await sandbox.cleanup()


async def test_starting_the_same_attempt_twice_follows_the_existing_container(
        runtime: DockerRuntime, make_spec: Any) -> None:
    spec = make_spec("echo once; sleep 1")
    first, second = Collector(), Collector()
    sandbox = await runtime.start(spec, first)
    again = await runtime.start(spec, second)
    assert again.ref == sandbox.ref
    await sandbox.wait()
    await again.wait()
    assert first.out == second.out == ["once"]
    await sandbox.cleanup()


async def test_output_faster_than_we_read_arrives_whole_live_and_when_read_again(
        runtime: DockerRuntime, make_spec: Any) -> None:
    # The container exits long before its log is read: the follow stream must not be cut
    # at the exit, and the final read must not skip from our position to the log's tail.
    spec = make_spec("seq 1 200000")
    live, again = Collector(), Collector()
    sandbox = await runtime.start(spec, live)
    assert (await sandbox.wait()).exit_code == 0
    reread = await runtime.attach(spec, sandbox.ref, None, again)
    assert (await reread.wait()).exit_code == 0
    expected = [str(i) for i in range(1, 200001)]
    assert live.out == expected and again.out == expected
    await sandbox.cleanup()


def test_the_test_image_is_rebuilt_only_when_its_rootfs_changes(docker_client: Any) -> None:
    tag = "agentdeck-test-rebuild:latest"
    try:
        first = build_test_image(docker_client, tag)
        assert build_test_image(docker_client, tag) == first  # same bytes: kept as is
        docker_client.api.tag(first, "agentdeck-test-rebuild", "first")  # keep it to compare
        docker_client.api.import_image_from_data(  # a stale image under the tag
            busybox_rootfs_tar(), repository="agentdeck-test-rebuild", tag="latest")
        stale = docker_client.images.get(tag).id
        rebuilt = build_test_image(docker_client, tag)
        assert rebuilt not in (first, stale)
        assert docker_client.images.get(tag).labels == docker_client.images.get(first).labels
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get(stale)  # replaced and removed, not left dangling
    finally:
        for name in (tag, "agentdeck-test-rebuild:first"):
            docker_client.images.remove(name)
