"""Fixtures for the tests against a real Docker daemon.

`make test` guarantees a daemon: the session fixture runs scripts/ensure-docker.sh once
(it starts dockerd if needed) and imports the busybox test image.
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from agentdeck.engine.runtimes.docker.images import TEST_IMAGE, build_test_image
from agentdeck.engine.models import AgentProfile, LostOutput, Stream
from agentdeck.engine.runtimes.base import LaunchSpec
from agentdeck.engine.runtimes.docker.cursor import TimestampParser
from agentdeck.engine.runtimes.docker.egress_network import remove_network
from agentdeck.engine.runtimes.docker.baselayer import HOME_LABEL, list_base_images
from agentdeck.engine.runtimes.docker.runtime import DockerRuntime, Endpoint

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def docker_client() -> Any:
    """A client of the default daemon, started if needed, with the test image in it."""
    done = subprocess.run([str(ROOT / "scripts" / "ensure-docker.sh")],
                          capture_output=True, text=True)
    assert done.returncode == 0, f"ensure-docker.sh failed: {done.stderr}"
    client = docker.from_env(version="auto")
    build_test_image(client)
    yield client
    remove_test_bases(client)
    client.close()


def remove_test_bases(client: Any) -> None:
    """Remove the base images tasks of tests' tmp data dirs built (not a user's)."""
    tmp = tempfile.gettempdir()
    for image in list_base_images(client):
        labels = client.images.get(image.tag).labels or {}
        if labels.get(HOME_LABEL, "").startswith(tmp + "/"):
            client.images.remove(image.tag, force=True)


@dataclass
class Collector:
    """A runtime sink that keeps what it got, like the engine's store would."""

    lines: dict[Stream, list[str]] = field(
        default_factory=lambda: {Stream.STDOUT: [], Stream.STDERR: []})
    cursor: str | None = None
    batches: int = 0
    cut: bool = False  # set: further batches are ignored (the engine "was killed")
    #: Each loss reported, with how many lines of each stream were stored before it.
    lost: list[tuple[LostOutput, int, int]] = field(default_factory=list)

    def __call__(self, stream: Stream, lines: list[str], cursor: str,
                 lost: LostOutput | None = None) -> None:
        if self.cut:
            return
        if lost is not None:
            self.lost.append((lost, len(self.out), len(self.err)))
        self.lines[stream].extend(lines)
        self.cursor = cursor
        self.batches += 1

    @property
    def out(self) -> list[str]:
        return self.lines[Stream.STDOUT]

    @property
    def err(self) -> list[str]:
        return self.lines[Stream.STDERR]


#: A container log of 4 files of 100 kB keeps about 3000 lines of `GAP_SCRIPT`'s flood.
SMALL_LOG = "100k"
FLOOD = 20_000
#: 500 lines, then (once /tmp/flood exists) `FLOOD` more, then (once /tmp/end exists)
#: "the end": a test can let it print while nobody follows.
GAP_SCRIPT = ("seq 1 500; while [ ! -e /tmp/flood ]; do sleep 0.05; done; "
              f"awk 'BEGIN {{ for (i = 501; i <= {500 + FLOOD}; i++) "
              f"printf \"%d {'y' * 60}\\n\", i }}'; "
              "while [ ! -e /tmp/end ]; do sleep 0.05; done; echo the end")


def daemon_log(container: Any) -> list[tuple[float, str]]:
    """What the daemon still holds of the container's stdout, with its stamps."""
    parse = TimestampParser()
    text = container.logs(stdout=True, stderr=False, timestamps=True).decode()
    return [(parse(stamp.encode()) / 1e9, line)
            for stamp, _, line in (row.partition(" ") for row in text.splitlines())]


def profile(**options: Any) -> AgentProfile:
    """A shell profile running in the test image."""
    return AgentProfile(name="test", **{"image": TEST_IMAGE, "memory": "64m", "cpus": 1.0,
                                        **options})


def git_workdir(path: Path) -> Path:
    """A small git working copy like the engine's per-task copy."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "README.md").write_text("hello\n")
    (path / "src").mkdir()
    (path / "src" / "main.py").write_text("print('hi')\n")
    for argv in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"]):
        subprocess.run(["git", *argv], cwd=path, check=True)
    return path


@pytest.fixture
def make_spec(tmp_path: Path):
    """Build a LaunchSpec with a fresh git workdir and a unique task id."""
    def make(script: str, attempt: int = 1, **options: Any) -> LaunchSpec:
        task_id = f"t{uuid.uuid4().hex[:10]}"
        workdir = git_workdir(tmp_path / task_id / "work")
        return LaunchSpec(task_id=task_id, attempt=attempt, argv=("sh", "-c", script),
                          workdir=workdir, profile=profile(**options),
                          run_dir=tmp_path / task_id)
    return make


@pytest.fixture
async def runtime(docker_client: Any, tmp_path: Path):
    """A DockerRuntime on the default daemon, with its own data dir; removes its containers."""
    home = tmp_path / "home"
    rt = DockerRuntime([Endpoint("local", None, max_parallel=8)], home=home, image=TEST_IMAGE)
    yield rt
    await rt.close()
    remove_ours(docker_client, str(home))


def remove_ours(client: Any, home: str) -> None:
    for container in client.containers.list(all=True, sparse=True,
                                            filters={"label": f"agentdeck.home={home}"}):
        container.remove(force=True)


class Dockerd:
    """A dockerd of a test's own (data-root, exec-root, pidfile, bridge) on ``url``, which
    the test may kill and start again: a real daemon dying under the runtime.

    It gets a bridge of its own: with ``--bridge none`` it would delete the main daemon's
    docker0. ``start`` waits until it answers and imports the test image.
    """

    def __init__(self, root: Path, url: str, bridge: str, bridge_addr: str) -> None:
        self.root, self.url = root, url
        self._bridge, self._bridge_addr = bridge, bridge_addr
        self.process: subprocess.Popen[bytes] | None = None
        self._log = open(root / "dockerd.log", "ab")
        _ip("link", "del", bridge, check=False)
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", bridge_addr, "dev", bridge)
        _ip("link", "set", bridge, "up")

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["dockerd", "-H", self.url, "--data-root", str(self.root / "data"),
             "--exec-root", str(self.root / "exec"), "--pidfile", str(self.root / "pid"),
             "--bridge", self._bridge, "--iptables=false", "--ip-masq=false",
             "--shutdown-timeout", "2"],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while not daemon_answers(self.url):
            assert self.process.poll() is None, self.log_tail()
            assert time.monotonic() < deadline, "the test's dockerd did not answer in 60 s"
            time.sleep(0.2)
        client = docker.DockerClient(base_url=self.url, version="auto")
        build_test_image(client)
        client.close()

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: its containers' shims live on."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        deadline = time.monotonic() + 30
        while daemon_answers(self.url):
            assert time.monotonic() < deadline, "the killed dockerd still answers"
            time.sleep(0.1)
        self._forget_dead_containerd()

    def _forget_dead_containerd(self) -> None:
        """Its containerd dies with it but may stay a zombie nobody reaps here; a new
        dockerd would take that for a live containerd and wait for it in vain."""
        pidfile = self.root / "exec" / "containerd" / "containerd.pid"
        deadline = time.monotonic() + 30
        while pidfile.exists():
            stat = Path(f"/proc/{pidfile.read_text().strip()}/stat")
            if not stat.exists() or stat.read_text().rpartition(")")[2].split()[0] == "Z":
                pidfile.unlink()
                return
            assert time.monotonic() < deadline, "the killed dockerd's containerd lives on"
            time.sleep(0.1)

    def terminate(self) -> None:
        """SIGTERM: dockerd stops its containers and containerd, then exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """`terminate`, then SIGKILL if it has not exited within 30 s."""
        if self.process is not None and self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def remove(self) -> None:
        """Stop it and remove its bridge, its mounts and its files."""
        self.stop()
        self._log.close()
        _ip("link", "del", self._bridge, check=False)
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                  if line.split()[1].startswith(str(self.root))]
        for mount in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self) -> str:
        return (self.root / "dockerd.log").read_text(errors="replace")[-2000:]


def daemon_answers(url: str) -> bool:
    try:
        docker.DockerClient(base_url=url, version="auto", timeout=2).close()
        return True
    except docker.errors.DockerException:
        return False


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


def own_dockerd(url: str | None, bridge: str, bridge_addr: str) -> Dockerd:
    """A started `Dockerd`; ``url`` None: a unix socket in its own root."""
    root = Path(tempfile.mkdtemp(prefix="ad-d-"))  # short: containerd's socket lives here
    daemon = Dockerd(root, url or f"unix://{root}/docker.sock", bridge, bridge_addr)
    try:
        daemon.start()
    except BaseException:
        daemon.remove()
        raise
    return daemon


@pytest.fixture
async def egress(docker_client: Any, tmp_path: Path):
    """A DockerRuntime whose egress events are kept; removes its containers and network."""
    from tests.integration.egresskit import Egress, Event  # it imports this module
    home = str(tmp_path / "home")
    events: list[Event] = []
    rt = DockerRuntime([Endpoint("local", None, max_parallel=4)], home=home,
                       image=TEST_IMAGE, on_egress=lambda *event: events.append(event))
    yield Egress(rt, home, events)
    await rt.close()
    remove_ours(docker_client, home)
    remove_network(docker_client, home)
