"""A pool of two real daemons: tasks spread over both; one daemon stopping fails only its tasks.

The second daemon listens on a loopback TCP port with its own data-root, exec-root and
bridge (with ``--bridge none`` it would delete the first daemon's docker0).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest

from agentdeck.engine.runtimes.docker.images import TEST_IMAGE
from agentdeck.engine.runtimes.docker.runtime import DockerRuntime, Endpoint
from tests.integration.conftest import (
    Collector, Dockerd, daemon_answers, own_dockerd, remove_ours,
)

pytestmark = pytest.mark.docker

# Per test process, so two test runs on one machine do not fight over the bridge.
BRIDGE = f"adbr{os.getpid() % 100_000}"
BRIDGE_ADDR = f"172.31.{200 + os.getpid() % 50}.1/24"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def second_daemon(docker_client: Any) -> Iterator[Dockerd]:
    """A second dockerd on 127.0.0.1 with the test image; stopped and removed afterwards."""
    daemon = own_dockerd(f"tcp://127.0.0.1:{free_port()}", BRIDGE, BRIDGE_ADDR)
    yield daemon
    daemon.remove()


async def test_tasks_spread_over_both_daemons_and_a_stopping_one_fails_only_its_tasks(
        second_daemon: Dockerd, docker_client: Any, make_spec: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    rt = DockerRuntime([Endpoint("local", None, 3), Endpoint("second", second_daemon.url, 3)],
                       home=home, image=TEST_IMAGE, reconnect_within=3)  # it stays away
    await rt.check()
    assert rt.free_slots() == 6
    specs = [make_spec("echo begin; sleep 4; echo done") for _ in range(6)]
    sinks = [Collector() for _ in specs]
    sandboxes = [await rt.start(spec, sink) for spec, sink in zip(specs, sinks)]
    placed = [sb.ref.split("/")[0] for sb in sandboxes]
    assert Counter(placed) == {"local": 3, "second": 3} and rt.free_slots() == 0
    while not all(sink.out for sink in sinks):
        await asyncio.sleep(0.05)

    second_daemon.terminate()
    outcomes = await asyncio.wait_for(asyncio.gather(*(sb.wait() for sb in sandboxes)), 60)

    for where, outcome, sink in zip(placed, outcomes, sinks):
        if where == "local":
            assert outcome.exit_code == 0 and sink.out == ["begin", "done"]
        else:
            assert outcome.exit_code != 0 and "done" not in sink.out, outcome
    await asyncio.to_thread(wait_gone, second_daemon.url)

    # With the second daemon gone, new tasks land on the first; its old refs are lost.
    again = await rt.start(make_spec("echo again"), Collector())
    assert again.ref.startswith("local/")
    lost = await rt.attach(specs[1], sandboxes[placed.index("second")].ref, None, Collector())
    outcome = await lost.wait()
    assert outcome.lost and "Docker endpoint second" in (outcome.reason or "")
    await again.wait()
    await rt.close()
    remove_ours(docker_client, str(home))


def wait_gone(url: str) -> None:
    deadline = time.monotonic() + 30
    while daemon_answers(url):
        assert time.monotonic() < deadline, "the second dockerd did not stop"
        time.sleep(0.2)


class UnixProxy:
    """Forwards 127.0.0.1:PORT to the local daemon's socket until `cut` drops everything:
    to the runtime that looks like a remote daemon vanishing mid-run."""

    def __init__(self, target: str = "/var/run/docker.sock") -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"tcp://127.0.0.1:{self._listener.getsockname()[1]}"
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self._target)
            self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


async def test_an_endpoint_vanishing_mid_run_ends_its_tasks_with_a_reason(
        docker_client: Any, make_spec: Any, tmp_path: Path) -> None:
    proxy = UnixProxy()
    home = tmp_path / "home"
    rt = DockerRuntime([Endpoint("faraway", proxy.url, 2)], home=home, image=TEST_IMAGE,
                       reconnect_within=3)  # it never comes back
    sink = Collector()
    sandbox = await rt.start(make_spec("echo begin; sleep 60"), sink)
    while not sink.out:
        await asyncio.sleep(0.05)
    proxy.cut()
    outcome = await asyncio.wait_for(sandbox.wait(), 30)
    assert outcome.lost and outcome.exit_code is None
    assert "Docker endpoint faraway (tcp://127.0.0.1:" in (outcome.reason or "")
    assert "went away" in (outcome.reason or "")
    await rt.close()
    remove_ours(docker_client, str(home))
