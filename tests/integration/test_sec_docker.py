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

from engine.errors import UnsafeChange
from engine.runtimes.docker import DockerRuntime
from engine.runtimes.docker_archive import CollectLimits, extract_capped
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

