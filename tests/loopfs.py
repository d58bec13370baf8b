"""A btrfs filesystem of its own on a loop device (mounting needs root): where reflink
copies are made (this machine's /tmp and /work are ext4)."""
from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def unavailable() -> str | None:
    """Why no btrfs loop filesystem can be mounted here, or ``None``."""
    if os.geteuid() != 0:
        return "mounting a btrfs loop filesystem needs root"
    if shutil.which("mkfs.btrfs") is None:
        return "mkfs.btrfs is missing: install btrfs-progs (scripts/system-deps.sh --test)"
    if not os.path.exists("/dev/loop-control"):
        return "no loop devices (/dev/loop-control) on this machine"
    return None


@contextmanager
def btrfs(image: Path, size: str = "512M") -> Iterator[Path]:
    """A fresh btrfs in the sparse file ``image``, mounted at ``image`` + ``.mnt`` until
    the end of the block (then unmounted and both removed)."""
    mount = image.with_name(image.name + ".mnt")
    mount.mkdir()
    subprocess.run(["truncate", "-s", size, str(image)], check=True)
    subprocess.run(["mkfs.btrfs", "-q", str(image)], check=True, capture_output=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)  # a supervisor may linger
        image.unlink()
        mount.rmdir()
