"""The Runtime interface: start an agent in a sandbox, stream its output, stop it, re-attach.

A runtime never touches SQLite or the event bus. It hands output to a `Sink` as batches
of decoded lines together with an opaque *cursor*: the position just after the last line
of that batch. The engine stores lines and cursor in one transaction, so after a crash
`attach(..., cursor)` resumes exactly after the last stored line — none lost, none doubled.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, ContextManager, Protocol

from agentdeck.engine.errors import RuntimeUnavailable
from agentdeck.engine.models import AgentProfile, LostOutput, Stream

#: Longest line kept whole; longer ones are cut and marked (see `cut_marker`).
MAX_LINE_BYTES = 64 * 1024


def cut_marker(dropped: int) -> str:
    """The text appended to a line that was cut because it exceeded MAX_LINE_BYTES."""
    return f" …[line cut: {dropped} more bytes]"


class Sink(Protocol):
    def __call__(self, stream: Stream, lines: list[str], cursor: str,
                 lost: LostOutput | None = None) -> None:
        """Receive decoded lines (no trailing newline) of one stream, in order, on the loop;
        ``lost``: output lost just before these lines (stored with them, so once)."""


class IgnoreRules(Protocol):
    """The ignore rules of a base commit (see `agentdeck.engine.workspace.baserules`)."""

    def tracked(self, path: str) -> bool:
        """Whether ``path`` is a file or folder of the base tree."""

    def entries(self, folder: str) -> dict[str, bool]:
        """The base tree's entries of ``folder`` (``""`` or ``"a/b/"``): name -> whether
        it is a folder."""

    def ignored(self, folder: str, names: list[tuple[str, bool]]) -> set[str]:
        """The ``(name, is_dir)`` entries of ``folder`` (``""`` or ``"a/b/"``) the rules
        ignore (tracked ones never are)."""


@dataclass(frozen=True)
class TreeSource:
    """The tree a task starts from, for runtimes that keep it as an image layer: then
    ``LaunchSpec.workdir`` holds only what goes on top of it (a follow-up's changes so
    far, local files) and `Sandbox.collect` brings back only the changes."""

    repo: str
    commit: str
    write_tar: Callable[[IO[bytes]], None]      # the base tree with a fresh inner .git
    rules: Callable[[], ContextManager[IgnoreRules]]


@dataclass(frozen=True)
class Collected:
    """What a changes-only collect brought back: ``workdir`` holds every changed file
    (not the unchanged ones); ``removed`` the base paths the agent deleted (a folder
    stands for everything under it)."""

    removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class LaunchSpec:
    """Everything a runtime needs to start one attempt of a task.

    ``env`` may hold secret values: a runtime passes it to the sandbox only and never
    logs or stores it.
    """

    task_id: str
    attempt: int
    argv: tuple[str, ...]
    workdir: Path                      # the task's working copy on the host
    profile: AgentProfile
    env: dict[str, str] = field(default_factory=dict)
    run_dir: Path | None = None        # where the runtime may keep its own files
    state_dir: Path | None = None      # the agent's home kept between attempts (Docker)
    #: Host dirs the copy's inner git reads and must see read-only at their own paths
    #: (the object stores it borrows); only for a runtime that `shares_host_paths`.
    shared_dirs: tuple[Path, ...] = ()
    tree: TreeSource | None = None     # start from a layer of this tree (Docker)


@dataclass(frozen=True)
class Outcome:
    """How a sandbox ended."""

    exit_code: int | None
    reason: str | None = None          # human words when it did not simply exit
    oom_killed: bool = False
    lost: bool = False                 # the sandbox vanished (died while we were away)
    requeue_after: float | None = None  # not a failure: run again after this many seconds


class Sandbox(abc.ABC):
    """A running (or finished) agent process/container of one task attempt."""

    #: Enough to find the sandbox again after a restart (pid, container id...).
    ref: str
    #: What the task's log says about this sandbox's confinement (system entries).
    notes: tuple[str, ...] = ()

    @abc.abstractmethod
    async def wait(self) -> Outcome:
        """Return once the agent exited AND all of its output was handed to the sink."""

    @abc.abstractmethod
    async def stop(self, grace: float = 10.0) -> None:
        """SIGTERM (the whole process group / container), wait ``grace``, then SIGKILL."""

    async def collect(self) -> Collected | None:
        """Bring the changed tree back into ``spec.workdir`` (no-op when shared);
        `Collected` when only the changes came back (``spec.tree`` was given).

        Raises:
            OverLimit: the change is over a collect limit; the sandbox is still there
                for `Runtime.recollect`.
        """
        return None

    async def cleanup(self, keep: bool = False) -> None:
        """Release what the sandbox holds; ``keep`` leaves it for inspection."""


class Runtime(abc.ABC):
    name: str
    #: The agent sees the working copy at its host path, so the copy may borrow host
    #: object stores (`LaunchSpec.shared_dirs`); a runtime that copies the tree elsewhere
    #: gets a self-contained copy.
    shares_host_paths: bool = False
    #: Starts sandboxes from ``LaunchSpec.tree`` (a layer per base commit) when given one.
    starts_from_tree: bool = False

    @abc.abstractmethod
    async def start(self, spec: LaunchSpec, sink: Sink) -> Sandbox:
        """Start the agent; output begins flowing into ``sink``."""

    @abc.abstractmethod
    async def attach(self, spec: LaunchSpec, ref: str, cursor: str | None, sink: Sink) -> Sandbox:
        """Re-attach to a sandbox started by an earlier engine process.

        Output resumes strictly after ``cursor``. If the sandbox is gone, the returned
        sandbox's `wait` reports ``Outcome(lost=True, reason=...)`` (or the exit code it
        left behind, if it finished while we were away).
        """

    async def find(self, spec: LaunchSpec) -> str | None:
        """The ref of a sandbox an earlier engine process started for ``spec``'s attempt
        without living to store it (it was killed in the middle of `start`), or None.

        None also where `start` of the same attempt picks such a sandbox up by itself
        (the Docker runtime finds its container by name).
        """
        return None

    async def warm(self, tree: TreeSource, image: str) -> None:
        """Get ready to start tasks on ``tree`` (build its layers) ahead of time."""

    async def recollect(self, spec: LaunchSpec, ref: str, max_files: int | None,
                        max_bytes: int | None) -> Collected | None:
        """Collect again from a sandbox kept after `Sandbox.collect` was over a limit.

        Raises:
            RuntimeUnavailable: the sandbox is gone (or this runtime keeps none).
            OverLimit: still over the (raised) limits.
        """
        raise RuntimeUnavailable(f"the {self.name} runtime keeps no sandbox to collect from")

    def free_slots(self) -> int | None:
        """How many more sandboxes this runtime can take now; None means no own limit."""
        return None

    async def check(self, image: str | None = None) -> None:
        """Raise `RuntimeUnavailable` with a clear reason if tasks cannot run now.

        Args:
            image: the image the task will run in, for runtimes that use images
                (default: the runtime's own default image).
        """

    async def close(self) -> None:
        """Release runtime-wide resources (threads, clients). Sandboxes keep running."""
