"""The built-in agent's tools inside a task container: `DockerToolHost`.

When a built-in agent's task runs on the Docker runtime, its loop stays in the engine
(the API key never enters the sandbox) and its tools act in a container that holds the
working copy, made and hardened like any agent's container (`BuiltinRuntime` starts it
with a command that only keeps it alive). Commands run with ``docker exec`` as the
sandbox user under a small shell wrapper that gives the command its own session, a
watchdog for its timeout, and kills its process group once it ends, as the local host
kills a command's process group. Files
move with the archive API. The container is the boundary, so paths are only checked
for what the tools promise (relative, no ``..``, nothing written under ``.git``).
"""
from __future__ import annotations

import asyncio
import io
import math
import posixpath
import shlex
import tarfile
import threading
import time
from typing import Any, Sequence

import docker.errors

from agentdeck.engine.agents.builtin.host import (
    KILL_GRACE, MAX_FILE_BYTES, HeadTail, MissingFile, ToolError, checked_path,
)
from agentdeck.engine.errors import AgentdeckError
from agentdeck.engine.runtimes.docker.archive import SANDBOX_UID, ChunkReader
from agentdeck.engine.runtimes.docker.pool import UNREACHABLE

WORKDIR = "/work"
#: Symlinks followed when reading, like the kernel's own limit in spirit.
MAX_LINK_HOPS = 8
#: Runs "$0" (the command) for at most "$1" seconds. The command gets a session of its
#: own and a watchdog another; once the command ends, its whole process group is killed
#: (leftover background children would keep the output open, as on the local host) and
#: so is the watchdog with its sleep. Exit code: the command's, 137 if the watchdog hit.
_WRAPPER = ('setsid sh -c "$0" </dev/null 2>&1 & c=$!; '
            'setsid sh -c \'sleep "$0"; kill -9 -"$1"\' "$1" "$c" </dev/null >/dev/null 2>&1 & '
            'w=$!; wait "$c"; rc=$?; kill -9 -"$c" -"$w" 2>/dev/null; exit "$rc"')


class SandboxGone(AgentdeckError):
    """The tool container cannot be used any more (removed, stopped, daemon away)."""


class DockerToolHost:
    """A `ToolHost` on the working copy inside a running container.

    Args:
        container: the SDK container (running, the working copy at /work).
    """

    def __init__(self, container: Any) -> None:
        self._container = container
        self._api = container.client.api

    # -- commands ------------------------------------------------------------------------
    async def exec(self, command: str | Sequence[str], timeout: float) -> tuple[int, str]:
        script = command if isinstance(command, str) else shlex.join(command)
        seconds = max(1, math.ceil(timeout))
        exec_id = await self._exec_create(["sh", "-c", _WRAPPER, script, str(seconds)])
        loop = asyncio.get_running_loop()
        reader = _ExecReader(self._api, exec_id, loop)
        started = time.monotonic()
        reader.start()
        # The output ends when the wrapper has ended the command's process group.
        await asyncio.wait({reader.ended}, timeout=seconds + KILL_GRACE)
        info = await self._docker(self._api.exec_inspect, exec_id)
        code = None if info.get("Running") else info.get("ExitCode")
        timed_out = code in (137, None) and time.monotonic() - started >= seconds
        note = f"\n[killed: still running after {timeout:g} s]" if timed_out else ""
        return (124 if timed_out else -1 if code is None else int(code)), reader.output.text() + note

    # -- files ---------------------------------------------------------------------------
    async def read(self, path: str) -> bytes:
        return await asyncio.to_thread(self._read, path)

    def _read(self, shown: str) -> bytes:
        where = posixpath.join(WORKDIR, checked_path(shown).as_posix())
        for _ in range(MAX_LINK_HOPS):
            member, data = self._fetch(where, shown)
            if not member.issym():
                return data
            where = posixpath.normpath(posixpath.join(posixpath.dirname(where), member.linkname))
            if where != WORKDIR and not where.startswith(WORKDIR + "/"):
                raise ToolError(f"{shown!r} leads outside the repository (through a symlink)")
        raise ToolError(f"{shown}: too many levels of symbolic links")

    def _fetch(self, where: str, shown: str) -> tuple[tarfile.TarInfo, bytes]:
        try:
            chunks, stat = self._container.get_archive(where)
        except docker.errors.NotFound:
            raise MissingFile(f"{shown}: no such file") from None
        except UNREACHABLE as exc:
            raise SandboxGone(f"the task's container does not answer: {exc}") from exc
        if stat.get("size", 0) > MAX_FILE_BYTES:
            chunks.close()
            raise ToolError(f"{shown} is larger than {MAX_FILE_BYTES // 2**20} MB")
        with tarfile.open(fileobj=ChunkReader(chunks), mode="r|") as tar:
            member = tar.next()
            if member is None:
                raise MissingFile(f"{shown}: no such file")
            if member.isdir():
                raise ToolError(f"{shown} is a directory; use list_files")
            handle = tar.extractfile(member) if member.isfile() else None
            return member, handle.read() if handle else b""

    async def write(self, path: str, data: bytes) -> None:
        relative = checked_path(path, for_write=True).as_posix()
        if relative == ".":
            raise ToolError(f"{path!r} is the repository root, not a file")
        parent, name = posixpath.split(relative)
        folder = posixpath.join(WORKDIR, parent)
        if parent:
            code, _ = await self._run_quiet(["mkdir", "-p", "--", parent])
            if code != 0:
                raise ToolError(f"{path}: cannot create its folder {parent}")
        try:
            await asyncio.to_thread(self._container.put_archive, folder, _one_file_tar(name, data))
        except docker.errors.APIError as exc:
            raise ToolError(f"{path}: cannot write ({exc.explanation or exc})") from None
        except UNREACHABLE as exc:
            raise SandboxGone(f"the task's container does not answer: {exc}") from exc

    async def walk(self, path: str = ".") -> list[str]:
        relative = checked_path(path).as_posix()
        command = ["sh", "-c", 'find "$0" -name .git -prune -o -type f -print0', relative]
        code, output = await self._run_quiet(command)
        if code != 0:
            raise MissingFile(f"{path}: no such file or directory")
        found = (posixpath.normpath(name) for name in output.split(b"\0") if name)
        return sorted(name.decode("utf-8", "replace") for name in found)

    async def read_many(self, names: Sequence[str], max_bytes: int) -> list[tuple[str, bytes]]:
        """One ``tar`` of the files in the container (an archive call per file costs
        ~40 ms: a search through 1000 files took 41 s)."""
        checked = [checked_path(name).as_posix() for name in names]
        if not checked:
            return []
        exec_id = await self._exec_create(["tar", "-cf", "-", "--", *checked], stderr=False)
        chunks = await self._docker(self._api.exec_start, exec_id, stream=True)
        return await asyncio.to_thread(_regular_files, chunks, max_bytes)

    async def _run_quiet(self, argv: list[str]) -> tuple[int, bytes]:
        """A short helper command's exit code and whole stdout."""
        exec_id = await self._exec_create(argv, stderr=False)
        output = await self._docker(self._api.exec_start, exec_id)
        info = await self._docker(self._api.exec_inspect, exec_id)
        return int(info.get("ExitCode") or 0), output

    async def _exec_create(self, argv: list[str], stderr: bool = True) -> str:
        created = await self._docker(self._api.exec_create, self._container.id, argv,
                                     workdir=WORKDIR, user=str(SANDBOX_UID), stderr=stderr)
        return str(created["Id"])

    async def _docker(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except docker.errors.APIError as exc:
            if exc.status_code in (404, 409):  # removed, or no longer running
                raise SandboxGone(f"the task's container is gone or stopped: "
                                  f"{exc.explanation or exc}") from exc
            raise SandboxGone(f"Docker refused a tool command: {exc.explanation or exc}") from exc
        except UNREACHABLE as exc:
            raise SandboxGone(f"the task's container does not answer: {exc}") from exc


class _ExecReader(threading.Thread):
    """Reads one exec's output (a head and a tail of it); ``ended`` is set on the loop."""

    def __init__(self, api: Any, exec_id: str, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(daemon=True, name=f"agentdeck-exec-{exec_id[:12]}")
        self._api, self._exec_id, self._loop = api, exec_id, loop
        self.output = HeadTail()
        self.ended: asyncio.Future[None] = loop.create_future()

    def run(self) -> None:
        try:
            for chunk in self._api.exec_start(self._exec_id, stream=True):
                self.output.add(chunk)
        except UNREACHABLE:
            pass  # the exit code is what counts; a broken stream only cuts the output
        finally:
            try:
                self._loop.call_soon_threadsafe(self._end)
            except RuntimeError:
                pass  # the loop is gone: nobody waits

    def _end(self) -> None:
        if not self.ended.done():
            self.ended.set_result(None)


def _regular_files(chunks: Any, max_bytes: int) -> list[tuple[str, bytes]]:
    """The regular files of a tar stream up to ``max_bytes`` each (others are skipped)."""
    found = []
    try:
        with tarfile.open(fileobj=ChunkReader(chunks), mode="r|") as tar:
            for member in tar:
                handle = tar.extractfile(member) if member.isfile() else None
                if handle is not None and member.size <= max_bytes:
                    found.append((posixpath.normpath(member.name), handle.read()))
    except (tarfile.TarError, *UNREACHABLE):
        pass  # a cut stream: what was read so far is still good
    return found


def _one_file_tar(name: str, data: bytes) -> bytes:
    """A tar of one file ``name``, owned by the sandbox user."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
        info.uid = info.gid = SANDBOX_UID
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
