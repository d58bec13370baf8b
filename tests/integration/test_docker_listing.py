"""The remote-daemon path of the changes-only collect through the container's own listing:
it finds what the writable layer holds (checked on the same real container), never asks
the changes API, and a follow-up keeps the first attempt's changes and removals."""
from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from agentdeck.engine.core.trees import tree_source
from agentdeck.engine.models import AgentProfile
from agentdeck.engine.runtimes.base import LaunchSpec, TreeSource
from agentdeck.engine.runtimes.docker.archive import CollectLimits
from agentdeck.engine.runtimes.docker.baselayer import list_base_images
from agentdeck.engine.runtimes.docker.changes import ChangeSet, upper_dir, upper_lister, walk_changes
from agentdeck.engine.runtimes.docker.collect import collect_changes, kept_removed
from agentdeck.engine.runtimes.docker.images import TEST_IMAGE
from agentdeck.engine.runtimes.docker.listing import read_listing
from agentdeck.engine.workspace import Workspace
from tests.engine.enginekit import make_repo
from tests.integration.conftest import Collector
from tests.integration.remotekit import RemoteView, find_image

pytestmark = pytest.mark.docker
FILES = {"README.md": "r\n", "src/a.py": "a\n", "src/b.py": "b\n", "gone/x": "x\n",
         "gone/sub/y": "y\n", "old/m.txt": "m\n", "old/deep/n.txt": "n\n", "swap": "s\n",
         ".gitignore": "node_modules/\n"}
SCRIPT = ("echo more >> src/a.py && rm src/b.py && rm -r gone && mv old renamed && "
          "mkdir -p new && echo n > new/n.txt && ln new/n.txt new/hard && "
          "ln -s ../README.md new/link && rm swap && mkdir swap && echo s2 > swap/inner && "
          "mkdir -p node_modules/m && cd node_modules/m && seq 1 3000 | xargs touch && cd /work && "
          "(cp /bin/busybox /usr/bin/find 2>/dev/null && echo replaced || echo kept) && "
          "(touch /tmp/.agentdeck-stamp 2>/dev/null && echo touched || echo kept)")
FILES_1 = ["new/hard", "new/link", "new/n.txt", "renamed/deep/n.txt", "renamed/m.txt",
           "src/a.py", "swap/inner"]
REMOVED_1 = ["gone", "old", "src/b.py", "swap"]


@pytest.fixture
def base(tmp_path, docker_client):
    repo = make_repo(tmp_path / "repo", FILES)
    ws = Workspace(tmp_path / "home")
    tree = tree_source(ws, str(repo), ws.snapshot("t1", repo))
    yield ws, tree
    for image in list_base_images(docker_client, str(tmp_path / "home")):
        docker_client.images.remove(image.tag, force=True)


def _spec(ws: Workspace, tree: TreeSource, script: str, image: str, attempt: int = 1,
          workdir: Path | None = None, memory: str = "64m") -> LaunchSpec:
    run_dir = ws.home / "runs" / "t1" / str(attempt)
    run_dir.mkdir(parents=True)
    return LaunchSpec("t1", attempt, ("sh", "-c", script), workdir or ws.prepare_overlay("t1"),
                      AgentProfile(name="t", image=image, memory=memory), run_dir=run_dir,
                      tree=tree)


def _walks(container, tree: TreeSource) -> tuple[ChangeSet, ChangeSet]:
    """The changes found in the writable layer and through the listing."""
    container.reload()
    work = upper_dir(container)
    listing = read_listing(container)
    assert work is not None and listing is not None
    with tree.rules() as rules:
        return walk_changes(upper_lister(work), rules), walk_changes(listing.lister(rules), rules)


def _same(local: ChangeSet, listed: ChangeSet) -> None:
    assert sorted(listed.files) == sorted(local.files)
    assert sorted(listed.removed) == sorted(local.removed)
    assert listed.size == local.size


async def test_the_listing_finds_the_writable_layers_changes_without_the_changes_api(
        runtime, docker_client, base):
    ws, tree = base
    spec = _spec(ws, tree, SCRIPT, find_image(docker_client))
    out = Collector()
    sandbox = await runtime.start(spec, out)
    try:
        assert (await sandbox.wait()).exit_code == 0
        assert out.out == ["kept", "kept"]  # the agent cannot replace find nor touch the stamp
        local, listed = _walks(sandbox.container, tree)
        _same(local, listed)
        assert sorted(listed.files) == FILES_1 and sorted(listed.removed) == REMOVED_1
        remote = RemoteView(sandbox.container)
        collected = collect_changes(remote, spec, CollectLimits(max_files=100), "t1")
        assert remote.diff_calls == 0
        assert sorted(collected.removed) == REMOVED_1
        work = spec.workdir
        assert sorted(str(p.relative_to(work)) for p in work.rglob("*")
                      if not p.is_dir()) == FILES_1  # nothing ignored, no .git
        assert os.stat(work / "new/hard").st_ino == os.stat(work / "new/n.txt").st_ino
        assert os.readlink(work / "new/link") == "../README.md"
        assert (work / "src/a.py").read_text() == "a\nmore\n"
    finally:
        await sandbox.cleanup()


async def test_a_follow_up_keeps_the_first_attempts_changes_through_the_listing(
        runtime, docker_client, base):
    ws, tree = base
    image = find_image(docker_client)
    first = _spec(ws, tree, SCRIPT, image)
    sandbox = await runtime.start(first, Collector())
    try:
        assert (await sandbox.wait()).exit_code == 0
        collect_changes(RemoteView(sandbox.container), first, CollectLimits(), "t1")
    finally:
        await sandbox.cleanup()
    assert sorted(kept_removed(first)) == REMOVED_1
    second = _spec(ws, tree, "test -e src/b.py || echo b-gone; echo third >> renamed/m.txt",
                   image, attempt=2, workdir=first.workdir)
    out = Collector()
    sandbox = await runtime.start(second, out)
    try:
        assert (await sandbox.wait()).exit_code == 0
        assert out.out == ["b-gone"]
        local, listed = _walks(sandbox.container, tree)
        _same(local, listed)
        remote = RemoteView(sandbox.container)
        collected = collect_changes(remote, second, CollectLimits(), "t1")
        assert remote.diff_calls == 0
        assert sorted(collected.removed) == REMOVED_1
        assert json.loads((ws.home / "runs" / "t1" / "removed.json").read_text()) == \
            list(collected.removed)
        assert (second.workdir / "src/a.py").read_text() == "a\nmore\n"  # copied in before
        assert (second.workdir / "renamed/m.txt").read_text() == "m\nthird\n"
    finally:
        await sandbox.cleanup()


async def test_without_a_listing_the_changes_api_is_asked(runtime, base):
    ws, tree = base
    spec = _spec(ws, tree, "echo more >> src/a.py", TEST_IMAGE)  # no /usr/bin/find there
    sandbox = await runtime.start(spec, Collector())
    try:
        assert (await sandbox.wait()).exit_code == 0
        remote = RemoteView(sandbox.container)
        collect_changes(remote, spec, CollectLimits(), "t1")
        assert remote.diff_calls == 1
        assert (spec.workdir / "src/a.py").read_text() == "a\nmore\n"
    finally:
        await sandbox.cleanup()


async def test_the_wrapper_keeps_the_agents_output_exit_code_and_stop(runtime, docker_client,
                                                                       base):
    ws, tree = base
    out = Collector()
    sandbox = await runtime.start(_spec(ws, tree, "echo out; echo err >&2; exit 7",
                                        find_image(docker_client)), out)
    try:
        assert (await sandbox.wait()).exit_code == 7
        assert out.out == ["out"] and out.err == ["err"]
        assert read_listing(sandbox.container) is not None
    finally:
        await sandbox.cleanup()
    script = "trap 'echo got term; exit 3' TERM; echo up; while :; do sleep 0.1; done"
    out = Collector()
    sandbox = await runtime.start(_spec(ws, tree, script, find_image(docker_client),
                                        attempt=2), out)
    try:
        while out.out != ["up"]:
            await asyncio.sleep(0.05)
        await sandbox.stop(grace=5)  # the signal reaches the agent, then the listing is made
        assert (await sandbox.wait()).exit_code == 3
        assert out.out == ["up", "got term"]
        assert read_listing(sandbox.container) is not None
    finally:
        await sandbox.cleanup()


async def test_an_out_of_memory_agent_is_reported_through_the_wrapper(runtime, docker_client,
                                                                       base):
    ws, tree = base
    spec = _spec(ws, tree, "dd if=/dev/zero of=/dev/null bs=64M count=1",
                 find_image(docker_client), memory="32m")
    sandbox = await runtime.start(spec, Collector())
    try:
        outcome = await sandbox.wait()
        assert outcome.oom_killed and outcome.exit_code == 137
    finally:
        await sandbox.cleanup()
