"""Changes-only collect of a container started from a base layer, and the way back in.

The changed paths come from the writable layer (`agentdeck.engine.runtimes.docker.changes`)
when it is a folder here, else from the listing the container wrote when the agent exited
(`agentdeck.engine.runtimes.docker.listing`), else from the changes API, less what the
base's ignore rules exclude; the caps apply to what would enter the diff and
are checked on the listing before any byte is copied; the files come back as one tar
through `extract_capped` (`agentdeck.engine.runtimes.docker.fetch`). The task's folder then
holds exactly the changed files; the removed paths are kept beside it (``removed.json``
in the task's run dir) for the capture and for a follow-up, whose container starts from
the same base with those files put back and those paths removed again.
"""
from __future__ import annotations

import io
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from agentdeck.engine.errors import OverLimit
from agentdeck.engine.runtimes.base import Collected, LaunchSpec
from agentdeck.engine.runtimes.docker.archive import SANDBOX_UID, CollectLimits, extract_capped
from agentdeck.engine.runtimes.docker.changes import (ChangeSet, diff_lister, upper_dir,
                                                      upper_lister, walk_changes)
from agentdeck.engine.runtimes.docker.fetch import TOP, chunks_of, tar_from_daemon, tar_from_upper
from agentdeck.engine.runtimes.docker.listing import read_listing, stamp_member

WORKDIR = "/work"
#: Inside the container: the paths a follow-up removes before the agent starts.
REMOVE_LIST = "/tmp/.agentdeck-removed"


def removed_file(spec: LaunchSpec) -> Path:
    """Where the removed paths of the task's last collect are kept."""
    assert spec.run_dir is not None
    return spec.run_dir.parent / "removed.json"


def kept_removed(spec: LaunchSpec) -> list[str]:
    """The removed paths of the task's last collect (none before the first)."""
    path = removed_file(spec)
    return list(json.loads(path.read_text())) if spec.run_dir and path.is_file() else []


def collect_changes(container: Any, spec: LaunchSpec, limits: CollectLimits,
                    task_hint: str) -> Collected:
    """Copy the container's changed files into ``spec.workdir`` (blocking).

    Raises:
        OverLimit: the change is over ``limits`` (nothing copied, ``workdir`` untouched).
        UnsafeChange: a member of the tar is refused (see `extract_capped`).
    """
    assert spec.tree is not None
    container.reload()
    work = upper_dir(container)
    listing = None if work else read_listing(container, WORKDIR)
    with spec.tree.rules() as rules:
        changes = walk_changes(upper_lister(work) if work else
                               listing.lister(rules) if listing else
                               diff_lister(container, WORKDIR), rules)
    check_limits(changes, limits, task_hint)
    with tempfile.TemporaryFile(dir=spec.run_dir) as spool:
        if work is not None:
            tar_from_upper(work, changes.files, spool)
        else:
            tar_from_daemon(container, WORKDIR, changes.files, spool, limits,
                            listing.links(changes.files) if listing else None)
        extract_capped(chunks_of(spool), spec.workdir, top=TOP, limits=limits)
    removed_file(spec).write_text(json.dumps(changes.removed))
    return Collected(tuple(changes.removed))


def check_limits(changes: ChangeSet, limits: CollectLimits, task_hint: str) -> None:
    """Refuse a change over ``limits`` before anything is copied, naming the way out."""
    again = (f"its container is kept: see what the agent did, then collect again with a "
             f"higher limit (agentdeck collect {task_hint} --max-files N --max-bytes N)")
    if changes.entries() > limits.max_files:
        raise OverLimit(f"the agent's change holds {changes.entries()} files, more than the "
                        f"limit of {limits.max_files} (ignored files not counted); nothing "
                        f"was copied back and {again}")
    if changes.size > limits.max_bytes:
        raise OverLimit(f"the agent's change is {changes.size} bytes, more than the limit of "
                        f"{limits.max_bytes}; nothing was copied back and {again}")


def removing_argv(argv: tuple[str, ...]) -> list[str]:
    """``argv`` run after the paths listed in `REMOVE_LIST` are removed from /work."""
    script = (f"xargs -0 rm -rf -- < {REMOVE_LIST} && rm -f {REMOVE_LIST} && "
              'exec "$@"')
    return ["sh", "-c", script, "agentdeck-follow-up", *argv]


def tmp_tar(removed: list[str]) -> bytes:
    """A tar for ``put_archive`` into /tmp before the tree is copied in: the listing's
    stamp and, for a follow-up, `REMOVE_LIST` (NUL-separated absolute paths)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        tar.addfile(stamp_member())
        if removed:
            data = b"".join(f"{WORKDIR}/{path}".encode() + b"\0" for path in removed)
            info = tarfile.TarInfo(REMOVE_LIST.rpartition("/")[2])
            info.size, info.mode = len(data), 0o644
            info.uid = info.gid = SANDBOX_UID  # the follow-up removes it itself
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()

