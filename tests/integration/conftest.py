"""Fixtures for the tests against a real Docker daemon.

`make test` guarantees a daemon: the session fixture runs scripts/ensure-docker.sh once
(it starts dockerd if needed) and imports the busybox test image.
"""
from __future__ import annotations

import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest

from engine.images import TEST_IMAGE, build_test_image
from engine.models import AgentProfile, Stream
from engine.runtimes.base import LaunchSpec
from engine.runtimes.docker import DockerRuntime, Endpoint

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
    client.close()


@dataclass
class Collector:
    """A runtime sink that keeps what it got, like the engine's store would."""

    lines: dict[Stream, list[str]] = field(
        default_factory=lambda: {Stream.STDOUT: [], Stream.STDERR: []})
    cursor: str | None = None
    batches: int = 0
    cut: bool = False  # set: further batches are ignored (the engine "was killed")

    def __call__(self, stream: Stream, lines: list[str], cursor: str) -> None:
        if self.cut:
            return
        self.lines[stream].extend(lines)
        self.cursor = cursor
        self.batches += 1

    @property
    def out(self) -> list[str]:
        return self.lines[Stream.STDOUT]

    @property
    def err(self) -> list[str]:
        return self.lines[Stream.STDERR]


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
