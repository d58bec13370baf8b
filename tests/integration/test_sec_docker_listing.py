"""The container's listing of /work against a hostile agent: it writes its own listing and
kills the wrapper before the wrapper writes the true one.

A listing that names a path outside /work, a ``..`` path, the agent's ``.git``, or that is
huge or not a file is not used (the changes API is asked, which finds the true change); a
well-formed listing that lies about a folder is refused with a clear error. Either way
nothing lands outside the task's folder (the marker) and nothing ignored comes back.
"""
from __future__ import annotations

import base64
from pathlib import Path

import pytest

from agentdeck.engine.core.trees import tree_source
from agentdeck.engine.errors import UnsafeChange
from agentdeck.engine.models import AgentProfile
from agentdeck.engine.runtimes.base import LaunchSpec
from agentdeck.engine.runtimes.docker.archive import CollectLimits
from agentdeck.engine.runtimes.docker.baselayer import list_base_images
from agentdeck.engine.runtimes.docker.collect import collect_changes
from agentdeck.engine.runtimes.docker.listing import LISTING, STAMP
from agentdeck.engine.workspace import Workspace
from tests.engine.enginekit import make_repo
from tests.integration.conftest import Collector
from tests.integration.remotekit import RemoteView, find_image

pytestmark = pytest.mark.docker
CHANGE = ("echo change >> README.md && mkdir -p node_modules/m .git/hooks && "
          "touch node_modules/m/i && printf '#!/bin/sh\\ntouch {marker}\\n' > .git/hooks/x && "
          "chmod +x .git/hooks/x")
KILL_WRAPPER = "kill -9 $PPID"  # the wrapper never writes the true listing


def _listing(*paths: tuple[str, str]) -> bytes:
    """A listing in the wrapper's format: its stamp, /work, then ``(type, path)``."""
    records = [("f", STAMP), ("d", "/work"), *paths]
    return b"".join(f"{kind} 9999999999.0 4 1:{n} {path}".encode() + b"\0"
                    for n, (kind, path) in enumerate(records))


def _write(data: bytes) -> str:
    return f"echo {base64.b64encode(data).decode()} | base64 -d > {LISTING}"


FALLBACKS = {
    "outside": lambda marker: _write(_listing(("f", "/etc/passwd"), ("f", str(marker)))),
    "dotdot": lambda marker: _write(_listing(("f", f"/work/../../../..{marker}"))),
    "git": lambda marker: _write(_listing(("d", "/work/.git"), ("d", "/work/.git/hooks"),
                                          ("f", "/work/.git/hooks/x"))),
    "garbage": lambda marker: f"head -c 100000 /dev/urandom > {LISTING}",
    "huge": lambda marker: f"head -c 70000000 /dev/zero | tr '\\0' a > {LISTING}",
    "symlink": lambda marker: (f"{_write(_listing(('f', '/work/README.md')))} && "
                               f"mv {LISTING} /tmp/l && ln -s /tmp/l {LISTING}"),
}


@pytest.fixture
def task(tmp_path, docker_client):
    repo = make_repo(tmp_path / "repo", {"README.md": "r\n", ".gitignore": "node_modules/\n"})
    ws = Workspace(tmp_path / "home")
    tree = tree_source(ws, str(repo), ws.snapshot("t1", repo))
    run_dir = ws.home / "runs" / "t1" / "1"
    run_dir.mkdir(parents=True)

    def spec(script: str) -> LaunchSpec:
        return LaunchSpec("t1", 1, ("sh", "-c", script), ws.prepare_overlay("t1"),
                          AgentProfile(name="t", image=find_image(docker_client),
                                       memory="256m"), run_dir=run_dir, tree=tree)
    yield spec
    for image in list_base_images(docker_client, str(tmp_path / "home")):
        docker_client.images.remove(image.tag, force=True)


async def _run(runtime, spec: LaunchSpec):
    sandbox = await runtime.start(spec, Collector())
    assert (await sandbox.wait()).exit_code == 137  # the agent killed the wrapper
    return sandbox


def _files(work: Path) -> list[str]:
    return sorted(str(p.relative_to(work)) for p in work.rglob("*") if not p.is_dir())


@pytest.mark.parametrize("attack", sorted(FALLBACKS))
async def test_a_forged_listing_is_not_used(tmp_path, runtime, task, attack):
    marker = tmp_path / "marker"
    spec = task(" && ".join([CHANGE.format(marker=marker), FALLBACKS[attack](marker),
                             KILL_WRAPPER]))
    sandbox = await _run(runtime, spec)
    try:
        remote = RemoteView(sandbox.container)
        collected = collect_changes(remote, spec, CollectLimits(), "t1")
        assert remote.diff_calls == 1  # the changes API was asked instead
        assert _files(spec.workdir) == ["README.md"] and collected.removed == ()
        assert (spec.workdir / "README.md").read_text() == "r\nchange\n"
        assert not marker.exists()
    finally:
        await sandbox.cleanup()


async def test_a_listing_that_lies_about_a_folder_is_refused(tmp_path, runtime, task):
    marker = tmp_path / "marker"
    lie = _write(_listing(("f", "/work/node_modules")))  # not ignored as a file: fetched
    spec = task(" && ".join([CHANGE.format(marker=marker), lie, KILL_WRAPPER]))
    sandbox = await _run(runtime, spec)
    try:
        remote = RemoteView(sandbox.container)
        with pytest.raises(UnsafeChange, match="names node_modules as a file"):
            collect_changes(remote, spec, CollectLimits(), "t1")
        assert remote.diff_calls == 0 and _files(spec.workdir) == []
        assert not marker.exists()
    finally:
        await sandbox.cleanup()
