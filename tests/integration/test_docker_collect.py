"""Copying an untrusted container's tree back: limits, symlinks, hooks, odd members."""
from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest

from agentdeck.engine.errors import UnsafeChange
from agentdeck.engine.runtimes.docker.runtime import DockerRuntime
from agentdeck.engine.runtimes.docker.archive import CollectLimits, extract_capped
from tests.integration.conftest import Collector

HOSTILE = """
printf '#!/bin/sh\\ntouch /tmp/pwned\\n' > .git/hooks/post-checkout; chmod +x .git/hooks/post-checkout
ln -s /etc/passwd escape; ln -s /tmp outside
echo agent > README.md
"""


def tree(path: Path) -> dict[str, str]:
    """Every entry below ``path`` with its kind, to compare before and after."""
    found = {}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            full = Path(root) / name
            found[str(full.relative_to(path))] = "link" if full.is_symlink() else (
                "dir" if full.is_dir() else "file")
    return found


async def run_and_collect(runtime: DockerRuntime, spec: Any) -> Any:
    sandbox = await runtime.start(spec, Collector())
    assert (await sandbox.wait()).exit_code == 0
    return sandbox


@pytest.mark.docker
async def test_hooks_and_symlinks_come_back_inert(runtime: DockerRuntime, make_spec: Any) -> None:
    spec = make_spec(HOSTILE)
    outside_before = tree(spec.workdir.parent.parent)
    sandbox = await run_and_collect(runtime, spec)
    await sandbox.collect()
    work = spec.workdir
    assert (work / "README.md").read_text() == "agent\n"
    assert os.readlink(work / "escape") == "/etc/passwd"  # recreated, not followed
    assert os.readlink(work / "outside") == "/tmp"
    hook = work / ".git" / "hooks" / "post-checkout"
    assert hook.read_text().startswith("#!/bin/sh") and not os.stat(hook).st_mode & 0o111
    added = set(tree(spec.workdir.parent.parent)) - set(outside_before)
    assert all(path.startswith(f"{spec.task_id}/work/") for path in added)
    assert not Path("/tmp/pwned").exists()
    await sandbox.cleanup()


@pytest.mark.docker
async def test_a_huge_file_is_refused_without_filling_the_disk(
        runtime: DockerRuntime, make_spec: Any) -> None:
    spec = make_spec(HOSTILE + "truncate -s 2G big.bin")
    before = tree(spec.workdir.parent.parent)
    free = shutil.disk_usage(spec.workdir).free
    sandbox = await run_and_collect(runtime, spec)
    with pytest.raises(UnsafeChange, match=r"larger than 1073741824 bytes \(reached at big.bin"):
        await sandbox.collect()
    assert tree(spec.workdir.parent.parent) == before  # workdir untouched, no staging left
    assert (spec.workdir / "README.md").read_text() == "hello\n"
    assert free - shutil.disk_usage(spec.workdir).free < 200 << 20
    await sandbox.cleanup()


@pytest.mark.docker
@pytest.mark.slow
async def test_a_tree_of_too_many_files_is_refused(runtime: DockerRuntime, make_spec: Any) -> None:
    # A shell builtin loop: on overlayfs it creates files 2-5x faster than touch/mkdir.
    spec = make_spec("mkdir many; cd many; i=0; while [ $i -lt 100000 ]; do : > $i; i=$((i+1)); done")
    before = tree(spec.workdir.parent.parent)
    sandbox = await run_and_collect(runtime, spec)
    with pytest.raises(UnsafeChange, match="more than 20000 entries"):
        await sandbox.collect()
    assert tree(spec.workdir.parent.parent) == before
    await sandbox.cleanup()


# -- hand-made archives (no daemon needed) --------------------------------------------

def archive(*members: tuple[tarfile.TarInfo, bytes | None]) -> list[bytes]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    raw = buf.getvalue()
    return [raw[i:i + 4096] for i in range(0, len(raw), 4096)]


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o755
    return info


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("old\n")
    return work


@pytest.mark.parametrize(("members", "message"), [
    ([(member("/etc/evil"), b"x")], "unsafe path: '/etc/evil'"),
    ([(member("work/../../evil"), b"x")], "unsafe path"),
    ([(member("work/dev", tarfile.CHRTYPE), None)], "holds a device: dev"),
    ([(member("work/fifo", tarfile.FIFOTYPE), None)], "special file: fifo"),
    ([(member("work/d", tarfile.SYMTYPE, "/tmp"), None), (member("work/d/x"), b"x")],
     "writes d/x through the symlink d"),
    ([(member("work/h", tarfile.LNKTYPE, "/etc/passwd"), None)], "unsafe path"),
    ([(member("work/l", tarfile.SYMTYPE, "/etc"), None),
      (member("work/h", tarfile.LNKTYPE, "work/l/passwd"), None)], "through the symlink l"),
])
def test_unsafe_members_are_refused_and_leave_the_tree_alone(
        dest: Path, members: list[Any], message: str) -> None:
    with pytest.raises(UnsafeChange, match=message):
        extract_capped(archive(*members), dest, top="work")
    assert tree(dest.parent) == {"work": "dir", "work/keep.txt": "file"}


def test_an_accepted_tree_replaces_the_contents(dest: Path) -> None:
    extract_capped(archive(
        (member("work", tarfile.DIRTYPE), None), (member("work/a/b.txt"), b"new\n"),
        (member("work/c.txt", tarfile.LNKTYPE, "work/a/b.txt"), None),
        (member("work/s", tarfile.SYMTYPE, "a/b.txt"), None)), dest, top="work")
    assert tree(dest) == {"a": "dir", "a/b.txt": "file", "c.txt": "file", "s": "link"}
    assert (dest / "c.txt").read_text() == (dest / "s").read_text() == "new\n"


def test_limits_count_bytes_and_entries(dest: Path) -> None:
    files = [(member(f"work/f{i}"), b"12345") for i in range(3)]
    with pytest.raises(UnsafeChange, match="more than 2 entries"):
        extract_capped(archive(*files), dest, "work", CollectLimits(max_files=2))
    with pytest.raises(UnsafeChange, match="larger than 12 bytes"):
        extract_capped(archive(*files), dest, "work", CollectLimits(max_bytes=12))
    extract_capped(archive(*files), dest, "work", CollectLimits(max_bytes=15, max_files=3))
    assert sorted(os.listdir(dest)) == ["f0", "f1", "f2"]
