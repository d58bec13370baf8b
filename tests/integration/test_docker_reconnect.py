"""A Docker daemon that dies and comes back: each container gets its real end, and those
of ended tasks are removed (or kept) once the daemon answers again.

The daemon is one of the test's own (`Dockerd`, on a unix socket in its own root),
killed with SIGKILL as a crash would: its containers' shims live on, so a container can
finish while the daemon is away; the restarted daemon kills those still running. What a
container prints while no daemon reads it is lost by Docker itself (seen on 20.10): the
stored output is what the daemon kept. The runtime finds the daemon through
``DOCKER_HOST``, so the messages must name that address.
"""
from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Iterator

import docker
import pytest

from agentdeck.engine.errors import RuntimeUnavailable
from agentdeck.engine.runtimes.docker.images import TEST_IMAGE
from agentdeck.engine.models import TaskState
from agentdeck.engine.runtimes.docker.runtime import DockerRuntime, Endpoint
from tests.engine.enginekit import make_repo, open_engine, stdout_lines, wait_done, wait_until
from tests.integration.conftest import Collector, Dockerd, daemon_answers, own_dockerd

pytestmark = pytest.mark.docker

# Per test process, so two test runs on one machine do not fight over the bridge.
BRIDGE = f"adrc{os.getpid() % 100_000}"
BRIDGE_ADDR = f"172.30.{200 + os.getpid() % 50}.1/24"


@pytest.fixture(scope="module")
def own_daemon(docker_client: Any) -> Iterator[Dockerd]:
    daemon = own_dockerd(None, BRIDGE, BRIDGE_ADDR)
    yield daemon
    daemon.remove()


@pytest.fixture
def daemon(own_daemon: Dockerd, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dockerd]:
    """The test's dockerd, answering, as the runtime's default endpoint (DOCKER_HOST)."""
    if not daemon_answers(own_daemon.url):
        own_daemon.start()  # an earlier test left it killed
    monkeypatch.setenv("DOCKER_HOST", own_daemon.url)
    client = docker.DockerClient(base_url=own_daemon.url, version="auto")
    yield own_daemon
    if daemon_answers(own_daemon.url):
        for container in client.containers.list(all=True, sparse=True):
            container.remove(force=True)
    client.close()


def kept_output(url: str, ref: str) -> list[str]:
    """The container's stdout lines as its daemon kept them."""
    client = docker.DockerClient(base_url=url, version="auto")
    try:
        text = client.containers.get(ref.split("/", 1)[1]).logs(stderr=False).decode()
    finally:
        client.close()
    return text.splitlines()


def names(url: str) -> set[str]:
    """The containers' names in one listing (``containers.list`` inspects each one after
    listing, which fails for one removed in between: what the tests wait for)."""
    client = docker.DockerClient(base_url=url, version="auto")
    try:
        return {name.lstrip("/") for c in client.api.containers(all=True) for name in c["Names"]}
    finally:
        client.close()


async def first_lines(*sinks: Collector) -> None:
    while not all(sink.out for sink in sinks):
        await asyncio.sleep(0.05)


async def test_a_daemon_killed_and_back_gives_each_container_its_real_end(
        daemon: Dockerd, make_spec: Any, tmp_path: Path) -> None:
    rt = DockerRuntime([Endpoint("local", None, 4)], home=tmp_path / "home", image=TEST_IMAGE)
    finishes = make_spec("echo a; sleep 3; echo made > made.txt; echo done-a")
    fails = make_spec("echo b; sleep 3; exit 3")
    runs_on, cancelled = make_spec("echo c; sleep 60"), make_spec("echo d; sleep 60")
    sinks = [Collector() for _ in range(4)]
    sandboxes = [await rt.start(spec, sink)
                 for spec, sink in zip((finishes, fails, runs_on, cancelled), sinks)]
    await first_lines(*sinks)

    await asyncio.to_thread(daemon.kill)
    await sandboxes[3].stop(1)  # a cancel or a timeout while no daemon answers
    given_up = await asyncio.wait_for(sandboxes[3].wait(), 10)
    assert given_up.lost and given_up.reason.startswith(
        f"stopped while Docker endpoint local (DOCKER_HOST={daemon.url}) did not answer")
    await sandboxes[3].cleanup()
    await asyncio.sleep(5)  # the first two finish while no daemon answers
    await asyncio.to_thread(daemon.start)
    ok, three, killed = await asyncio.wait_for(
        asyncio.gather(*(sandbox.wait() for sandbox in sandboxes[:3])), 90)

    assert (ok.exit_code, ok.lost, ok.reason) == (0, False, None)
    assert sinks[0].out == kept_output(daemon.url, sandboxes[0].ref) and sinks[0].out[0] == "a"
    await sandboxes[0].collect()
    assert (finishes.workdir / "made.txt").read_text() == "made\n"
    assert (three.exit_code, three.lost, sinks[1].out) == (3, False, ["b"])
    assert killed.exit_code not in (0, None) and sinks[2].out == ["c"]  # by the new daemon
    for sandbox in sandboxes[:3]:
        await sandbox.cleanup()
    await wait_until(lambda: not names(daemon.url), timeout=30,
                     what="the stopped one removed once the daemon is back")
    await rt.close()


async def test_containers_of_attempts_ended_while_the_daemon_was_away_go_once_it_is_back(
        daemon: Dockerd, make_spec: Any, tmp_path: Path) -> None:
    rt = DockerRuntime([Endpoint("local", None, 4)], home=tmp_path / "home", image=TEST_IMAGE,
                       reconnect_within=1.0)
    specs = [make_spec("echo hi; sleep 60") for _ in range(2)]
    sinks = [Collector() for _ in specs]
    removed, kept = [await rt.start(spec, sink) for spec, sink in zip(specs, sinks)]
    await first_lines(*sinks)

    await asyncio.to_thread(daemon.kill)
    for outcome in await asyncio.wait_for(asyncio.gather(removed.wait(), kept.wait()), 30):
        assert outcome.lost and outcome.exit_code is None
        assert f"Docker endpoint local (DOCKER_HOST={daemon.url})" in (outcome.reason or "")
        assert "did not come back within 1 s" in (outcome.reason or "")
    await removed.cleanup()
    await kept.cleanup(keep=True)  # the keep rule: a failed attempt kept for inspection

    await asyncio.to_thread(daemon.start)
    kept_name = rt.container_name(specs[1])
    await wait_until(lambda: names(daemon.url) == {kept_name}, timeout=30,
                     what="the container not kept removed once the daemon is back")
    await rt.close()


async def test_messages_name_the_address_docker_host_gave(
        monkeypatch: pytest.MonkeyPatch, make_spec: Any, tmp_path: Path) -> None:
    url = f"unix://{tmp_path}/nowhere.sock"
    monkeypatch.setenv("DOCKER_HOST", url)
    rt = DockerRuntime(home=tmp_path / "home", image=TEST_IMAGE)
    with pytest.raises(RuntimeUnavailable) as raised:
        await rt.check()
    message = str(raised.value)
    assert f"Docker endpoint local (DOCKER_HOST={url}) does not answer" in message
    assert "default socket" not in message and "systemctl" not in message
    assert "unset DOCKER_HOST" in message
    await rt.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "agents.toml").write_text(
        f'[profiles.shell]\nimage = "{TEST_IMAGE}"\nmemory = "64m"\ncpus = 1.0\n')
    return home


async def test_a_task_whose_container_finished_while_the_daemon_was_down_succeeds(
        daemon: Dockerd, home: Path, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    engine = await open_engine(home, default_runtime="docker", max_parallel=2)
    try:
        done_away = await engine.submit(repo, "echo begin; sleep 3; echo new > new.txt; echo end")
        killed = await engine.submit(repo, "echo begin; sleep 60")
        await wait_until(lambda: all(stdout_lines(engine, t.id) for t in (done_away, killed)),
                         timeout=60, what="both tasks printing")
        await asyncio.to_thread(daemon.kill)
        await asyncio.sleep(5)
        await asyncio.to_thread(daemon.start)

        ended = await wait_done(engine, done_away.id, timeout=90)
        assert ended.state == TaskState.SUCCEEDED, ended.error
        assert stdout_lines(engine, done_away.id)[0] == "begin"
        assert "+new" in await engine.get_patch(done_away.id)
        failed = await wait_done(engine, killed.id, timeout=90)
        assert failed.state == TaskState.FAILED and failed.exit_code not in (0, None)
        await wait_until(lambda: not names(daemon.url), timeout=30, what="containers removed")
    finally:
        await engine.close()
