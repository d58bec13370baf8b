"""The Docker runtime through the whole engine: containers per task, recovery, fallback."""
from __future__ import annotations


import docker
import pytest

from agentdeck.engine.runtimes.docker.images import AGENT_IMAGE, TEST_IMAGE
from agentdeck.engine.models import EntryKind, TaskState
from agentdeck.engine.runtimes.docker.runtime import DockerRuntime
from tests.engine.enginekit import (
    kill_engine_mid_run, make_repo, open_engine, stdout_lines, wait_done,
    wait_until,
)
from tests.integration.conftest import GAP_SCRIPT, SMALL_LOG, daemon_log

pytestmark = pytest.mark.docker
LINES = 300


@pytest.fixture
def home(tmp_path, docker_client):
    home = tmp_path / "home"
    home.mkdir()
    (home / "agents.toml").write_text(
        f'[profiles.shell]\nimage = "{TEST_IMAGE}"\nmemory = "64m"\ncpus = 1.0\n')
    return home


def _ours(client, home) -> list:
    return client.containers.list(all=True, sparse=True,
                                  filters={"label": f"agentdeck.home={home}"})


async def test_tasks_run_in_containers_and_leave_none_behind(tmp_path, home, docker_client):
    repo = make_repo(tmp_path / "repo")
    engine = await open_engine(home, default_runtime="docker", max_parallel=4)
    try:
        ids = [(await engine.submit(repo, f"id -u; echo {n} > out{n}.txt; rm README.md")).id
               for n in range(4)]
        for n, task_id in enumerate(ids):
            done = await wait_done(engine, task_id, timeout=120)
            assert done.state == TaskState.SUCCEEDED, done.error
            assert done.runtime == "docker"
            assert stdout_lines(engine, task_id) == ["1000"]
            patch = await engine.get_patch(task_id)
            assert f"+{n}" in patch and "deleted file mode" in patch
        # A task is reported done before its container is removed.
        await wait_until(lambda: not _ours(docker_client, home), what="containers removed")
    finally:
        await engine.close()


def _script(n: int) -> str:
    return (f"i=0; while [ $i -lt {LINES} ]; do i=$((i+1)); echo \"c{n} line $i\"; "
            f"[ $((i % 30)) -eq 0 ] && sleep 0.4; done; echo {n} > result.txt")


async def test_kill_9_engine_then_reattach_to_containers(tmp_path, home, docker_client):
    repo = make_repo(tmp_path / "repo")
    submitter = await open_engine(home, drive_queue=False)
    ids = [(await submitter.submit(repo, _script(n), runtime="docker")).id for n in range(2)]
    await submitter.close()
    kill_engine_mid_run(home, running=2, min_lines=40)
    assert len(_ours(docker_client, home)) == 2, "the containers outlive the engine"

    engine = await open_engine(home)
    try:
        for n, task_id in enumerate(ids):
            done = await wait_done(engine, task_id, timeout=120)
            assert done.state == TaskState.SUCCEEDED, done.error
            assert stdout_lines(engine, task_id) == [f"c{n} line {i}" for i in range(1, LINES + 1)]
            assert f"+{n}" in await engine.get_patch(task_id)
    finally:
        await engine.close()


async def test_auto_runtime_is_docker_only_with_the_agent_image(tmp_path, docker_client):
    engine = await open_engine(tmp_path / "home", default_runtime=None)
    try:
        try:
            docker_client.images.get(AGENT_IMAGE)
            has_image = True
        except docker.errors.ImageNotFound:
            has_image = False
        await engine.auto_runtime()  # settled before the first task starts, or when asked
        assert engine.runtimes.default == ("docker" if has_image else "local")
        fallback = [n for n in engine.notices if "Using the local runtime" in n.message]
        assert bool(fallback) != has_image
        if fallback:
            assert "agentdeck image build --offline" in fallback[0].message
    finally:
        await engine.close()


async def test_a_follow_up_container_finds_the_agents_home_of_the_last_attempt(
        tmp_path, home, docker_client):
    """Agent CLIs keep their sessions in their home; `--resume` needs it back."""
    repo = make_repo(tmp_path / "repo")
    engine = await open_engine(home, default_runtime="docker")
    try:
        task = await engine.submit(repo, "mkdir -p ~/.claude && echo session-42 > "
                                         "~/.claude/last && echo one > one.txt")
        assert (await wait_done(engine, task.id, timeout=120)).state == TaskState.SUCCEEDED
        await engine.follow_up(task.id, "cat ~/.claude/last; echo two > two.txt")
        done = await wait_done(engine, task.id, timeout=120)
        assert done.state == TaskState.SUCCEEDED and done.attempt == 2, done.error
        assert stdout_lines(engine, task.id)[-1] == "session-42"
        patch = await engine.get_patch(task.id)
        assert "+one" in patch and "+two" in patch and ".claude" not in patch
    finally:
        await engine.close()


async def test_an_engine_away_during_a_flood_stores_one_gap_and_each_line_after_once(
        tmp_path, home, docker_client, monkeypatch):
    monkeypatch.setitem(DockerRuntime.__init__.__kwdefaults__, "log_file_size", SMALL_LOG)
    repo = make_repo(tmp_path / "repo")
    engine = await open_engine(home, default_runtime="docker")
    try:
        task_id = (await engine.submit(repo, GAP_SCRIPT)).id
        await wait_until(lambda: len(stdout_lines(engine, task_id)) == 500, timeout=120,
                         what="the first 500 lines")
    finally:
        await engine.close()  # the container prints on, unpaced, into a small log
    [container] = docker_client.containers.list(filters={"label": f"agentdeck.task={task_id}"})
    container.exec_run(["sh", "-c", "touch /tmp/flood /tmp/end"])
    container.wait()
    kept = [line for _, line in daemon_log(container)]
    assert int(kept[0].split()[0]) > 501, "the flood rotated the log past the stored lines"

    for _ in range(2):  # the second opening finds the task done: nothing is said again
        engine = await open_engine(home)
        try:
            done = await wait_done(engine, task_id, timeout=120)
            entries = await engine.get_logs(task_id, limit=None)
        finally:
            await engine.close()
        assert done.state == TaskState.SUCCEEDED, done.error
        shown = [e.text if e.kind != EntryKind.GAP else "GAP" for e in entries
                 if e.stream.value == "stdout" or e.kind == EntryKind.GAP]
        assert shown == [str(i) for i in range(1, 501)] + ["GAP"] + kept
