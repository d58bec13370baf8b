"""The Docker runtime against a hostile agent: hard-link bombs, planted links, disk and CPU.

Each attack runs in a real container and leaves a trace when it works (bytes on the
host's disk, a file outside the working copy); the tests assert the attack was made
(the links exist in the container, the hostile entries are in the collected tree) and
that the trace is absent.
"""
from __future__ import annotations

import asyncio
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from agentdeck.engine.errors import UnsafeChange
from agentdeck.engine.runtimes.docker.images import TEST_IMAGE
from agentdeck.engine.models import TaskState
from agentdeck.engine.runtimes.docker.runtime import DockerRuntime
from agentdeck.engine.runtimes.docker.archive import CollectLimits, extract_capped
from tests.engine.enginekit import make_repo, open_engine, stdout_lines, wait_done
from tests.integration.conftest import Collector
from tests.integration.test_docker_collect import archive, member

pytestmark = pytest.mark.docker

BOMB_MB = 40
BOMB_LINKS = 250  # the unfixed collect wrote 10 GB for these; enough to tell, not to fill a disk


def disk_used(root: Path) -> int:
    """Bytes of disk the files below ``root`` take (st_blocks, each inode once)."""
    seen: dict[tuple[int, int], int] = {}
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            st = os.lstat(os.path.join(base, name))
            seen[(st.st_dev, st.st_ino)] = st.st_blocks * 512
    return sum(seen.values())


BOMB = (f"head -c {BOMB_MB * 1024 * 1024} /dev/urandom > big; mkdir links; i=0; "
        f"while [ $i -lt {BOMB_LINKS} ]; do ln big links/$i; i=$((i+1)); done; "
        "stat -c 'links=%h' big")


async def test_a_hard_link_bomb_is_one_copy_on_the_host(
        runtime: DockerRuntime, make_spec: Any) -> None:
    spec = make_spec(BOMB)
    home = spec.workdir.parent.parent
    before = disk_used(home)
    sink = Collector()
    sandbox = await runtime.start(spec, sink)
    assert (await sandbox.wait()).exit_code == 0
    assert sink.out == [f"links={BOMB_LINKS + 1}"]  # the bomb was really built
    await sandbox.collect()
    await sandbox.cleanup()
    big = spec.workdir / "big"
    assert os.stat(big).st_nlink == BOMB_LINKS + 1  # links recreated as links
    assert (spec.workdir / "links" / "7").read_bytes()[:4096] == big.read_bytes()[:4096]
    grown = disk_used(home) - before
    assert BOMB_MB << 20 <= grown < (BOMB_MB + 8) << 20, grown  # one copy, not 251


async def test_linked_bytes_count_once_toward_the_cap_and_nothing_passes_it(
        runtime: DockerRuntime, make_spec: Any, docker_client: Any) -> None:
    """The container's real archive: a cap below one copy refuses it on the header,
    before its data is written; a cap above one copy (far below the sum over all names)
    takes it."""
    spec = make_spec(BOMB)
    sandbox = await runtime.start(spec, Collector())
    assert (await sandbox.wait()).exit_code == 0
    container = docker_client.containers.get(sandbox.ref.split("/")[1])
    home = spec.workdir.parent.parent
    before = disk_used(home)

    def collect(max_bytes: int) -> None:
        chunks, _ = container.get_archive("/work")
        try:
            extract_capped(chunks, spec.workdir, "work", CollectLimits(max_bytes=max_bytes))
        finally:
            chunks.close()

    with pytest.raises(UnsafeChange, match=r"larger than .* \(reached at big"):
        await asyncio.to_thread(collect, (BOMB_MB - 1) << 20)
    assert disk_used(home) - before < 1 << 20  # refused on the header: nothing written
    assert not (spec.workdir / "big").exists()
    await asyncio.to_thread(collect, (BOMB_MB + 1) << 20)
    assert os.stat(spec.workdir / "big").st_nlink == BOMB_LINKS + 1
    await sandbox.cleanup()


async def test_links_planted_in_the_old_tree_are_removed_not_followed(
        runtime: DockerRuntime, make_spec: Any, tmp_path: Path) -> None:
    """A collected tree holding links to a host directory is replaced by the next
    collect: the links go, what they point at stays."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("user data\n")
    spec = make_spec(f"ln -s {outside} dirlink; ln -s {outside}/precious filelink; "
                     "mkdir sub; ln -s .. sub/up")
    sandbox = await runtime.start(spec, Collector())
    assert (await sandbox.wait()).exit_code == 0
    await sandbox.collect()
    assert os.readlink(spec.workdir / "dirlink") == str(outside)  # the hostile tree is here
    # The next attempt writes files at the links' names and below them.
    extract_capped(archive((member("work/dirlink", tarfile.DIRTYPE), None),
                           (member("work/dirlink/precious"), b"agent\n"),
                           (member("work/filelink"), b"agent\n")), spec.workdir, "work")
    assert (outside / "precious").read_text() == "user data\n"
    assert sorted(os.listdir(outside)) == ["precious"]
    assert (spec.workdir / "dirlink" / "precious").read_text() == "agent\n"
    assert not (spec.workdir / "dirlink").is_symlink()
    await sandbox.cleanup()


async def test_a_hard_link_must_point_at_a_file_of_the_tree(tmp_path: Path) -> None:
    dest = tmp_path / "work"
    dest.mkdir()
    (tmp_path / "secret").write_text("host secret\n")
    for link in ("work/sub", "work/missing", "work/l/x"):
        with pytest.raises(UnsafeChange):
            extract_capped(archive((member("work/sub", tarfile.DIRTYPE), None),
                                   (member("work/l", tarfile.SYMTYPE, "/"), None),
                                   (member("work/h", tarfile.LNKTYPE, link), None)), dest, "work")
    assert os.listdir(dest) == [] and os.stat(tmp_path / "secret").st_nlink == 1



# -- bounds: disk and CPU ---------------------------------------------------------------

async def test_a_container_writing_past_its_disk_limit_ends_failed_with_the_reason(
        tmp_path: Path, docker_client: Any) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "agents.toml").write_text(
        '[profiles.filler]\nkind = "shell"\ncommand = ["sh", "-c", "{prompt}"]\n'
        f'image = "{TEST_IMAGE}"\nmemory = "64m"\ndisk = "16m"\n')
    script = "head -c 64000000 /dev/zero > fill; ls -l fill | awk '{print $5}'; sleep 120"
    engine = await open_engine(home, default_runtime="docker")
    try:
        task = await engine.submit(make_repo(tmp_path / "repo"), script, agent="filler")
        done = await wait_done(engine, task.id, timeout=90)
        out = stdout_lines(engine, task.id)
    finally:
        await engine.close()
    assert out == ["64000000"]  # the agent really wrote past the limit
    assert done.state == TaskState.FAILED
    assert 'over its disk limit' in done.error and 'disk = "16m"' in done.error, done.error
    assert not (tmp_path / "repo" / "fill").exists()


async def test_the_writable_layer_is_limited_or_watched(
        runtime: DockerRuntime, make_spec: Any, docker_client: Any) -> None:
    """Where the daemon can limit the layer the container carries the limit; elsewhere
    (ext4 here) the refusal is remembered and the container has none."""
    sandbox = await runtime.start(make_spec("true", disk="1g"), Collector())
    await sandbox.wait()
    host = docker_client.api.inspect_container(sandbox.ref.split("/")[1])["HostConfig"]
    backing = dict(docker_client.info().get("DriverStatus") or []).get("Backing Filesystem")
    if backing == "xfs":
        assert host.get("StorageOpt") in ({"size": "1g"}, None)
    else:
        assert not host.get("StorageOpt")
    await sandbox.cleanup()


async def test_the_default_cpu_limit_leaves_a_core_and_a_profile_overrides_it(
        runtime: DockerRuntime, make_spec: Any, docker_client: Any) -> None:
    ncpu = int(docker_client.info()["NCPU"])
    nano = {}
    for cpus in (None, 0.5):
        sandbox = await runtime.start(make_spec("true", cpus=cpus), Collector())
        await sandbox.wait()
        host = docker_client.api.inspect_container(sandbox.ref.split("/")[1])["HostConfig"]
        nano[cpus] = host["NanoCpus"]
        await sandbox.cleanup()
    assert nano == {None: max(1, ncpu - 1) * 1_000_000_000, 0.5: 500_000_000}
