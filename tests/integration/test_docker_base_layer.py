"""Docker tasks at scale: a base-layer image per (repo, base commit), changes-only collect,
no work lost to a cap — through the whole engine, on the real daemon."""
from __future__ import annotations

import os
import time
import subprocess
import sys
from pathlib import Path

import pytest

from agentdeck.engine.models import ReviewState, TaskState
from agentdeck.engine.runtimes.docker.baselayer import list_base_images
from agentdeck.engine.runtimes.docker.images import TEST_IMAGE
from benchmarks.scale_repo import make_scale_repo
from agentdeck.engine.batch.file import BatchSpec, TaskSpec
from tests.engine.enginekit import make_repo, open_engine, wait_done, wait_until

pytestmark = pytest.mark.docker
FILES = 3000


@pytest.fixture
def home(tmp_path, docker_client):
    home = tmp_path / "home"
    home.mkdir()
    (home / "agents.toml").write_text(
        f'[profiles.shell]\nimage = "{TEST_IMAGE}"\nmemory = "256m"\ncpus = 1.0\n')
    yield home
    for image in list_base_images(docker_client, str(home)):
        docker_client.images.remove(image.tag, force=True)


@pytest.fixture(scope="module")
def big_repo(tmp_path_factory) -> Path:
    return make_scale_repo(tmp_path_factory.mktemp("scale") / "repo", FILES, FILES * 1000)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and ".git" not in p.relative_to(root).parts)


def _added(patch: str, text: str) -> bool:
    """Whether the patch adds a line ending in ``text`` (the generated files have no
    final newline, so ``echo >>`` extends their last line)."""
    return any(line.startswith("+") and line.endswith(text) for line in patch.splitlines())


def _ours(client, home: Path) -> list:
    return client.containers.list(all=True, filters={"label": f"agentdeck.home={home}"})


EDIT = ("echo changed >> src/pkg000/mod00/file000000.py; rm src/pkg000/mod00/file000001.py; "
        "rm -r src/pkg000/mod01; mkdir -p new && echo hi > new/added.txt")


async def test_tasks_on_one_base_share_its_image_and_bring_back_only_the_change(
        big_repo, home, docker_client):
    engine = await open_engine(home, default_runtime="docker")
    try:
        first = await engine.submit(big_repo, EDIT)
        done = await wait_done(engine, first.id, timeout=300)
        assert done.state == TaskState.SUCCEEDED, done.error
        second = await engine.submit(big_repo, "echo again >> src/pkg000/mod00/file000002.py")
        again = await wait_done(engine, second.id, timeout=300)
        assert again.state == TaskState.SUCCEEDED, again.error

        bases = list_base_images(docker_client, str(home))
        assert len(bases) == 1 and bases[0].commit == done.base_commit, bases
        # The folder holds the changed files only, not a copy of the 3 000.
        assert _files(Path(done.workdir)) == ["new/added.txt", "src/pkg000/mod00/file000000.py"]
        patch = await engine.get_patch(first.id)
        assert _added(patch, "changed") and "+hi" in patch
        assert patch.count("deleted file mode") == 101  # file000001 + the 100 of mod01
        assert done.files_changed == 103
        assert (await engine.get_diff(second.id)).files[0].path == "src/pkg000/mod00/file000002.py"
    finally:
        await engine.close()


async def test_follow_up_starts_from_the_base_with_the_change_so_far(big_repo, home):
    engine = await open_engine(home, default_runtime="docker")
    try:
        task = await engine.submit(big_repo, EDIT)
        assert (await wait_done(engine, task.id, timeout=300)).state == TaskState.SUCCEEDED
        await engine.follow_up(task.id, "cat new/added.txt; ls src/pkg000/mod01 2>&1 | wc -l; "
                                        "echo more >> new/added.txt")
        done = await wait_done(engine, task.id, timeout=300)
        assert done.state == TaskState.SUCCEEDED, done.error
        patch = await engine.get_patch(task.id)
        assert "+hi" in patch and "+more" in patch and patch.count("deleted file mode") == 101
    finally:
        await engine.close()


async def test_thirty_thousand_ignored_files_are_never_copied_back(big_repo, home):
    engine = await open_engine(home, default_runtime="docker")
    try:
        task = await engine.submit(
            big_repo, "mkdir -p node_modules/pkg && cd node_modules/pkg && "
                      "seq 1 30000 | xargs touch && cd /work && echo fix >> .gitignore")
        done = await wait_done(engine, task.id, timeout=300)
        assert done.state == TaskState.SUCCEEDED, done.error
        assert _files(Path(done.workdir)) == [".gitignore"]
        assert done.files_changed == 1
    finally:
        await engine.close()


async def test_over_the_limit_keeps_the_container_and_collect_recovers_it(
        big_repo, home, docker_client):
    engine = await open_engine(home, default_runtime="docker")
    try:
        task = await engine.submit(
            big_repo, "mkdir many && cd many && seq 1 20050 | xargs touch")
        done = await wait_done(engine, task.id, timeout=300)
        assert done.state == TaskState.FAILED
        assert "more than the limit of 20000" in done.error and "kept" in done.error
        assert [c.id for c in _ours(docker_client, home)] == [done.sandbox_ref.split("/")[1]]
        assert _files(Path(done.workdir)) == []  # nothing came back
    finally:
        await engine.close()

    env = {**os.environ, "AGENTDECK_HOME": str(home)}
    cli = subprocess.run([sys.executable, "-m", "agentdeck.cli.main", "collect", task.id,
                          "--max-files", "30000"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert cli.returncode == 0, cli.stderr
    assert "20050 files collected" in cli.stdout
    engine = await open_engine(home, default_runtime="docker")
    try:
        shown = await engine.get_task(task.id)
        assert shown.review == ReviewState.PENDING and shown.sandbox_ref is None
        assert not _ours(docker_client, home), "collected: the container is removed"
    finally:
        await engine.close()


async def test_a_queued_batch_has_its_base_layer_built_before_its_tasks_start(
        tmp_path, home, docker_client):
    repo = make_repo(tmp_path / "repo")
    engine = await open_engine(home, default_runtime="docker")
    try:
        later = time.time() + 3600  # queued, not started: only the warm-up can build it
        tasks = await engine.submit_batch(BatchSpec("b", tuple(
            TaskSpec(f"echo {n}", str(repo), not_before=later) for n in range(3))))
        await wait_until(lambda: list_base_images(docker_client, str(home)), timeout=120,
                         what="the base layer")
        assert [b.commit for b in list_base_images(docker_client, str(home))] == [
            tasks[0].base_commit]
        assert {t.state for t in await engine.list_tasks()} == {TaskState.QUEUED}
    finally:
        await engine.close()


async def test_a_task_that_changes_nothing_succeeds_with_no_change(tmp_path, home):
    engine = await open_engine(home, default_runtime="docker")
    try:
        task = await engine.submit(make_repo(tmp_path / "repo"), "cat README.md")
        done = await wait_done(engine, task.id, timeout=120)
        assert done.state == TaskState.SUCCEEDED, done.error
        assert done.files_changed == 0 and done.review == ReviewState.NONE
    finally:
        await engine.close()


async def test_gc_removes_the_kept_container_and_the_base_layer_no_kept_task_uses(
        tmp_path, home, docker_client):
    """du shows the base layer; once the task it served is past the retention, gc --dry-run
    names the layer and removes nothing, gc removes the layer and the container the task
    kept over its limit."""
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    engine = await open_engine(home, default_runtime="docker")
    try:
        task = await engine.submit(repo, "mkdir many && cd many && seq 1 20050 | xargs touch")
        done = await wait_done(engine, task.id, timeout=300)
        assert done.state == TaskState.FAILED and done.sandbox_ref
        [base] = list_base_images(docker_client, str(home))
        usage = await engine.disk_usage()
        assert base.tag in usage.base_layers and usage.unused_layers == ()  # within retention
        await engine.update_settings(storage_retention_days=0)
        dry = await engine.collect_garbage(dry_run=True)
        assert dry.unused_layers == (base.tag,) and [e.task_id for e in dry.removable] == [task.id]
        assert list_base_images(docker_client, str(home)) and _ours(docker_client, home)
        await engine.collect_garbage()
        assert list_base_images(docker_client, str(home)) == []
        assert _ours(docker_client, home) == []
        assert not Path(done.workdir).exists()
    finally:
        await engine.close()
