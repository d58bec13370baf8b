"""The remote-daemon path of the changes-only collect (changes API + one get_archive per
path) gives what the writable-layer path gives, on the same real container."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from agentdeck.engine.core.trees import tree_source
from agentdeck.engine.models import AgentProfile
from agentdeck.engine.runtimes.base import LaunchSpec
from agentdeck.engine.runtimes.docker.archive import CollectLimits, extract_capped
from agentdeck.engine.runtimes.docker.baselayer import list_base_images
from agentdeck.engine.runtimes.docker.changes import (diff_lister, upper_dir, upper_lister,
                                                      walk_changes)
from agentdeck.engine.runtimes.docker.fetch import TOP, chunks_of, tar_from_daemon, tar_from_upper
from agentdeck.engine.runtimes.docker.images import TEST_IMAGE
from agentdeck.engine.workspace import Workspace
from tests.engine.enginekit import make_repo
from tests.integration.conftest import Collector

pytestmark = pytest.mark.docker
FILES = {"README.md": "r\n", "src/a.py": "a\n", "src/b.py": "b\n", "gone/x": "x\n",
         ".gitignore": "node_modules/\n"}
SCRIPT = ("echo more >> src/a.py && rm src/b.py && rm -r gone && mkdir -p new node_modules/m "
          "&& echo n > new/n.txt && touch node_modules/m/i && ln -s ../README.md new/link")


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): (p.read_bytes() if not p.is_symlink() else
                                       b"-> " + str(p.readlink()).encode())
            for p in root.rglob("*") if p.is_file() or p.is_symlink()}


async def test_the_changes_api_path_matches_the_writable_layer_path(tmp_path, runtime,
                                                                    docker_client):
    repo = make_repo(tmp_path / "repo", FILES)
    ws = Workspace(tmp_path / "home")
    base = ws.snapshot("t1", repo)
    run_dir = tmp_path / "home" / "runs" / "t1" / "1"
    run_dir.mkdir(parents=True)
    tree = tree_source(ws, str(repo), base)
    spec = LaunchSpec("t1", 1, ("sh", "-c", SCRIPT), ws.prepare_overlay("t1"),
                      AgentProfile(name="t", image=TEST_IMAGE, memory="64m"), run_dir=run_dir,
                      tree=tree)
    sandbox = await runtime.start(spec, Collector())
    try:
        assert (await sandbox.wait()).exit_code == 0
        container = sandbox.container
        container.reload()
        work = upper_dir(container)
        assert work is not None
        with tree.rules() as rules:
            local = walk_changes(upper_lister(work), rules)
        with tree.rules() as rules:
            remote = walk_changes(diff_lister(container), rules)
        assert sorted(local.files) == sorted(remote.files) == ["new/link", "new/n.txt",
                                                               "src/a.py"]
        assert sorted(local.removed) == sorted(remote.removed) == ["gone", "src/b.py"]
        trees = []
        for fill in (lambda out: tar_from_upper(work, local.files, out),
                     lambda out: tar_from_daemon(container, "/work", remote.files, out,
                                                 CollectLimits())):
            dest = Path(tempfile.mkdtemp(dir=tmp_path))
            with tempfile.TemporaryFile() as spool:
                fill(spool)
                extract_capped(chunks_of(spool), dest, top=TOP)
            trees.append(_tree(dest))
        assert trees[0] == trees[1] and trees[0]["src/a.py"] == b"a\nmore\n"
    finally:
        await sandbox.cleanup()
        for image in list_base_images(docker_client, str(tmp_path / "home")):
            docker_client.images.remove(image.tag, force=True)
