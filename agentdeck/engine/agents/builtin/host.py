"""Where the built-in agent's tools act: the `ToolHost` interface and its local version.

The agent loop runs in the engine; its tools read, write and run things through a
`ToolHost`, which is the task's sandbox seen from the engine. `LocalToolHost` is the
host of the embedded local runtime: a working copy on this machine. It treats every
path the model sends as hostile: absolute paths, ``..`` and symlinks that lead out of the
working copy are refused, ``.git`` is never written, and commands run in their own
process group with a timeout and a scrubbed environment (no API keys).
"""
from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path, PurePosixPath
from typing import Protocol, Sequence

from agentdeck.engine.errors import AgentdeckError

MAX_FILE_BYTES = 20 * 1024 * 1024
OUTPUT_LIMIT = 24_000
KILL_GRACE = 2.0
SAFE_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ")


class ToolError(AgentdeckError):
    """A tool cannot do what the model asked; the message goes back to the model."""


class MissingFile(ToolError):
    """The path names no file."""


class ToolHost(Protocol):
    """File and command access to one task's working copy. Paths are relative to its root."""

    async def exec(self, command: str | Sequence[str], timeout: float) -> tuple[int, str]:
        """Run a shell command string (or an argv) in the root; (exit code, output).

        stdout and stderr are merged; long output keeps its head and tail. On timeout the
        command's process group is killed and the exit code is 124.
        """
        ...

    async def read(self, path: str) -> bytes:
        """The bytes of a file; `MissingFile` if there is none, `ToolError` otherwise."""
        ...

    async def write(self, path: str, data: bytes) -> None:
        """Create or replace a file (parent directories are created)."""
        ...

    async def walk(self, path: str = ".") -> list[str]:
        """Every file below ``path`` (or ``path`` itself), root-relative, sorted, no .git."""
        ...

    async def read_many(self, names: Sequence[str], max_bytes: int) -> list[tuple[str, bytes]]:
        """The contents of the files ``names`` (as `walk` lists them), in one go; a file
        that is missing, unreadable or larger than ``max_bytes`` is left out."""
        ...


def checked_path(path: str, *, for_write: bool = False) -> PurePosixPath:
    """``path`` as the model sent it, if it is relative and stays in the repository.

    Raises:
        ToolError: absolute, ``~``, NUL, ``..``, or (to write) a path under ``.git``.
    """
    raw = (path or ".").strip() or "."
    pure = PurePosixPath(raw)
    if "\0" in raw or pure.is_absolute() or raw.startswith("~"):
        raise ToolError(f"{raw!r}: use a path relative to the repository root")
    if ".." in pure.parts:
        raise ToolError(f"{raw!r}: '..' is not allowed; paths stay inside the repository")
    if for_write and ".git" in pure.parts:
        raise ToolError(f"{raw!r}: files under .git are not written by tools")
    return pure


class HeadTail:
    """Keeps the first and last ``limit/2`` bytes of a stream and counts the rest."""

    def __init__(self, limit: int = OUTPUT_LIMIT) -> None:
        self.half = limit // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = max(0, self.half - len(self.head))
        self.head += data[:room]
        self.tail += data[room:]
        if len(self.tail) > self.half:
            self.dropped += len(self.tail) - self.half
            del self.tail[: len(self.tail) - self.half]

    def text(self) -> str:
        gap = f"\n[... {self.dropped} bytes of output left out ...]\n" if self.dropped else ""
        return (bytes(self.head).decode("utf-8", "replace") + gap
                + bytes(self.tail).decode("utf-8", "replace"))


class LocalToolHost:
    """A `ToolHost` on a working copy of this machine.

    Args:
        workdir: the working copy root; nothing outside it is read or written.
        env: environment of commands; default: a few harmless variables of ours
            (PATH, HOME, locale...), never the engine's secrets.
        confine: a command prefix every command runs under (the local runtime's
            bubblewrap sandbox); empty: commands run as the engine's user.
    """

    def __init__(self, workdir: Path | str, env: dict[str, str] | None = None,
                 confine: Sequence[str] = ()) -> None:
        self.root = Path(workdir).resolve(strict=True)
        self.confine = list(confine)
        if env is None:
            env = {k: os.environ[k] for k in SAFE_ENV if k in os.environ}
            env.update(TERM="dumb", PAGER="cat", GIT_PAGER="cat", GIT_TERMINAL_PROMPT="0")
        self.env = env

    # -- paths -------------------------------------------------------------------------
    def resolve(self, path: str, *, for_write: bool = False) -> Path:
        """The real path of ``path`` inside the root, or `ToolError` saying why not."""
        pure = checked_path(path, for_write=for_write)
        real = (self.root / pure).resolve()
        if real != self.root and not real.is_relative_to(self.root):
            raise ToolError(f"{path!r} leads outside the repository (through a symlink)")
        if for_write and ".git" in real.relative_to(self.root).parts:
            raise ToolError(f"{path!r}: files under .git are not written by tools")
        return real

    def _rel(self, real: Path) -> str:
        return real.relative_to(self.root).as_posix() or "."

    # -- files -------------------------------------------------------------------------
    async def read(self, path: str) -> bytes:
        return await asyncio.to_thread(self._read, self.resolve(path), path)

    @staticmethod
    def _read(real: Path, shown: str) -> bytes:
        if real.is_dir():
            raise ToolError(f"{shown} is a directory; use list_files")
        try:
            # O_NOFOLLOW: the path was checked with symlinks resolved; refuse a swapped-in link.
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise MissingFile(f"{shown}: no such file") from None
        except OSError as exc:
            raise ToolError(f"{shown}: cannot read ({exc.strerror})") from None
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ToolError(f"{shown} is larger than {MAX_FILE_BYTES // 2**20} MB")
        return data

    async def write(self, path: str, data: bytes) -> None:
        real = self.resolve(path, for_write=True)
        await asyncio.to_thread(self._write, real, path, data)

    @staticmethod
    def _write(real: Path, shown: str, data: bytes) -> None:
        if real.is_dir():
            raise ToolError(f"{shown} is a directory")
        try:
            real.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(real, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise ToolError(f"{shown}: cannot write ({exc.strerror})") from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)

    async def walk(self, path: str = ".") -> list[str]:
        real = self.resolve(path)
        if real.is_file():
            return [self._rel(real)]
        if not real.is_dir():
            raise MissingFile(f"{path}: no such file or directory")
        return await asyncio.to_thread(self._walk, real)

    async def read_many(self, names: Sequence[str], max_bytes: int) -> list[tuple[str, bytes]]:
        return await asyncio.to_thread(self._read_many, names, max_bytes)

    def _read_many(self, names: Sequence[str], max_bytes: int) -> list[tuple[str, bytes]]:
        found = []
        for name in names:
            try:
                real = self.resolve(name)
                if real.stat().st_size <= max_bytes:
                    found.append((name, self._read(real, name)))
            except (ToolError, OSError):
                continue
        return found

    def _walk(self, top: Path) -> list[str]:
        found = []
        for folder, dirs, files in os.walk(top):  # symlinked dirs are not followed
            dirs[:] = sorted(d for d in dirs if d != ".git")
            found += [self._rel(Path(folder) / name) for name in files]
        return sorted(found)

    # -- commands ------------------------------------------------------------------------
    async def exec(self, command: str | Sequence[str], timeout: float) -> tuple[int, str]:
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        argv = self.confine + argv
        loop = asyncio.get_running_loop()
        output = HeadTail()
        spawn = asyncio.ensure_future(loop.subprocess_exec(
            lambda: _Collector(loop, output), *argv, cwd=self.root, env=self.env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True))
        transport, proto, cancelled = await _uninterrupted(spawn)
        pid, note = transport.get_pid(), ""
        try:
            if cancelled:
                raise asyncio.CancelledError
            await asyncio.wait_for(asyncio.shield(proto.exited), timeout)
        except asyncio.TimeoutError:
            await _stop_group(pid, proto)
            note = f"\n[killed: still running after {timeout:g} s]"
        except BaseException:
            await _stop_group(pid, proto)
            transport.close()
            raise
        code = 124 if note else transport.get_returncode()
        # Leftover background children would hold the pipe open: end the group, then read.
        _signal_group(pid, signal.SIGKILL)
        try:
            await asyncio.wait_for(asyncio.shield(proto.closed), KILL_GRACE)
        except asyncio.TimeoutError:
            pass  # a child escaped into its own session and keeps the pipe; stop reading
        transport.close()
        return (-1 if code is None else code), output.text() + note


_Spawned = tuple[asyncio.SubprocessTransport, "_Collector"]


async def _uninterrupted(spawn: asyncio.Future[_Spawned]
                         ) -> tuple[asyncio.SubprocessTransport, _Collector, bool]:
    """The spawn's result even when the caller is cancelled while it runs, and whether
    it was (then the caller stops the process and re-raises).

    ``subprocess_exec`` cancelled half-way kills only the process it made (bwrap's
    first); bwrap's second, not yet bound to it by ``--die-with-parent``, lives on
    holding the pipe, and asyncio waits for that pipe forever (a task stopped over its
    budget hung in "running"). So the spawn finishes in its own task (milliseconds) and
    the caller ends the whole process group.
    """
    try:
        return (*await asyncio.shield(spawn), False)
    except asyncio.CancelledError:
        return (*await spawn, True)


class _Collector(asyncio.SubprocessProtocol):
    """Collects a command's output and tells when it exited and when its pipe closed.

    (``Process.wait()`` would also wait for the pipe, which background children keep
    open, so the exit is taken from ``process_exited`` instead.)
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, sink: HeadTail) -> None:
        self.sink = sink
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self.sink.add(data)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def _stop_group(pid: int, proto: _Collector) -> None:
    """SIGTERM the process group, then SIGKILL it: at once once its leader is gone (a
    sandbox's init ignores SIGTERM), else after a short grace."""
    _signal_group(pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(proto.exited), KILL_GRACE)
    except asyncio.TimeoutError:
        pass
    finally:
        _signal_group(pid, signal.SIGKILL)
    await proto.exited
