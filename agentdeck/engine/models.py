"""Domain objects of agentdeck: tasks, their states, log entries and agent profiles.

The state machines live here and only here: `TaskState.check_transition` and
`ReviewState.check_transition` are the single place that says which moves are legal.
"""
from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, NamedTuple

from agentdeck.engine.errors import IllegalTransition, InvalidInput


class TaskState(str, enum.Enum):
    """Lifecycle of one task (one attempt at a time)."""

    QUEUED = "queued"
    PREPARING = "preparing"
    RUNNING = "running"
    NEEDS_INPUT = "needs_input"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def is_active(self) -> bool:
        """True while a sandbox may exist for the task (it holds a slot)."""
        return self in (TaskState.PREPARING, TaskState.RUNNING)

    @property
    def is_unfinished(self) -> bool:
        """Not ended yet: queued, being prepared, running or waiting for an answer."""
        return not self.is_terminal

    @property
    def is_failure(self) -> bool:
        """It ended without finishing its work: failed, or out of time (not cancelled)."""
        return self in (TaskState.FAILED, TaskState.TIMED_OUT)

    @property
    def can_requeue(self) -> bool:
        """A retry or a follow-up may queue the task again: it ended or waits for an answer."""
        return self.is_terminal or self is TaskState.NEEDS_INPUT

    def check_transition(self, new: "TaskState") -> None:
        """Raise `IllegalTransition` unless ``self -> new`` is allowed."""
        if new not in _TASK_MOVES[self]:
            raise IllegalTransition(f"task state {self.value} -> {new.value} is not allowed")


TERMINAL_STATES = frozenset(
    {TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED, TaskState.TIMED_OUT}
)
UNFINISHED_STATES = frozenset(set(TaskState) - TERMINAL_STATES)

_ENDINGS = {TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED, TaskState.TIMED_OUT}
_TASK_MOVES: dict[TaskState, set[TaskState]] = {
    TaskState.QUEUED: {TaskState.PREPARING, TaskState.CANCELLED, TaskState.FAILED},
    TaskState.PREPARING: {TaskState.RUNNING, TaskState.QUEUED} | _ENDINGS,
    # RUNNING -> QUEUED: a rate limit that passes requeues the task instead of failing it.
    TaskState.RUNNING: {TaskState.NEEDS_INPUT, TaskState.QUEUED} | _ENDINGS,
    # The agent stopped to ask something; the answer goes back to the queue as a follow-up.
    TaskState.NEEDS_INPUT: {TaskState.QUEUED, TaskState.CANCELLED, TaskState.FAILED},
    # A finished task goes back to the queue as a new attempt (retry / follow-up).
    TaskState.SUCCEEDED: {TaskState.QUEUED},
    TaskState.FAILED: {TaskState.QUEUED},
    TaskState.CANCELLED: {TaskState.QUEUED},
    TaskState.TIMED_OUT: {TaskState.QUEUED},
}


class ReviewState(str, enum.Enum):
    """Where the human review of a task's diff stands."""

    NONE = "none"
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CONFLICT = "conflict"

    @property
    def is_open(self) -> bool:
        """A diff waits for the user's decision (pending, or it conflicted at accept)."""
        return self in OPEN_REVIEWS

    @property
    def is_settled(self) -> bool:
        """The user decided (accepted or rejected): final, a retry would undo it."""
        return self in SETTLED_REVIEWS

    def check_transition(self, new: "ReviewState") -> None:
        """Raise `IllegalTransition` unless ``self -> new`` is allowed."""
        if new not in _REVIEW_MOVES[self]:
            raise IllegalTransition(f"review state {self.value} -> {new.value} is not allowed")


#: Reviews that wait for the user's decision.
OPEN_REVIEWS = frozenset({ReviewState.PENDING, ReviewState.CONFLICT})
#: Reviews the user decided.
SETTLED_REVIEWS = frozenset({ReviewState.ACCEPTED, ReviewState.REJECTED})


_REVIEW_MOVES: dict[ReviewState, set[ReviewState]] = {
    ReviewState.NONE: {ReviewState.PENDING, ReviewState.NONE, ReviewState.REJECTED},
    ReviewState.PENDING: {
        ReviewState.ACCEPTED, ReviewState.REJECTED, ReviewState.CONFLICT, ReviewState.NONE,
    },
    ReviewState.CONFLICT: {
        ReviewState.ACCEPTED, ReviewState.REJECTED, ReviewState.CONFLICT, ReviewState.NONE,
        ReviewState.PENDING,
    },
    ReviewState.ACCEPTED: set(),
    # Reopen: a rejection is undone while the task's working copy is still kept.
    ReviewState.REJECTED: {ReviewState.PENDING},
}


class EntryKind(str, enum.Enum):
    """What a log entry is, as the agent adapter understood it."""

    RAW = "raw"            # a plain output line
    MESSAGE = "message"    # assistant text
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    COMMAND = "command"    # a shell command the agent ran (data: command, output, exit_code)
    FILE_EDIT = "file_edit"
    ERROR = "error"
    USAGE = "usage"        # data: input_tokens, output_tokens, cost_usd
    QUESTION = "question"  # the agent waits for the user (needs_input)
    SYSTEM = "system"      # said by agentdeck itself (state changes, notices)
    GAP = "gap"            # output lost before agentdeck read it (data: lost_after, lost_before)


class Stream(str, enum.Enum):
    STDOUT = "stdout"
    STDERR = "stderr"
    SYSTEM = "system"


class LogEntry(NamedTuple):
    """One stored log line. ``seq`` is per task, increasing across attempts.

    A NamedTuple, not a dataclass: the hot path makes ~100k of these a second and binds
    them to SQLite as they are (the field order is the column order of ``logs``).
    """

    task_id: str
    seq: int
    ts: float
    attempt: int
    stream: Stream
    kind: EntryKind
    text: str
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class LostOutput:
    """Output the sandbox printed that its runtime could no longer read: whatever it
    printed after ``after`` and before ``before`` (seconds since the epoch). How many
    lines that was is not known (Docker does not say what its log rotation dropped)."""

    after: float
    before: float


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """What an agent adapter makes of one output line, before it gets a sequence number."""

    kind: EntryKind
    text: str
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class DiffStats:
    files: int = 0
    added: int = 0
    removed: int = 0


@dataclass(frozen=True)
class Task:
    """A snapshot of one task row. Immutable: changes go through the store."""

    id: str
    prompt: str
    repo: str
    agent: str = "shell"
    title: str = ""
    runtime: str = "local"
    endpoint: str = ""
    priority: int = 0
    not_before: float | None = None
    timeout: float | None = None
    state: TaskState = TaskState.QUEUED
    review: ReviewState = ReviewState.NONE
    exit_code: int | None = None
    error: str | None = None
    attempt: int = 1
    batch_id: str | None = None
    base_commit: str | None = None
    result_commit: str | None = None
    include_uncommitted: bool = False
    workdir: str | None = None
    sandbox_ref: str | None = None
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    lines_added: int = 0
    lines_removed: int = 0
    files_changed: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    session_id: str | None = None
    question: str | None = None
    follow_up: str | None = None
    budget_usd: float | None = None    # stop the task once it has cost this much
    group_id: str | None = None        # best-of-N: the attempts at one prompt share it
    approved_at: float | None = None   # the reviewer approved it for `land` (not yet landed)
    test_result: str | None = None     # the repo's tests on its change: running|passed|failed|error
    test_summary: str | None = None    # one line: the command, its exit, its time
    paths: tuple[str, ...] = ()         # the copy checks out only these (sparse); (): all

    @property
    def reviewable(self) -> bool:
        """Its diff can be accepted or rejected now: the attempt is over and a change
        waits for a decision."""
        return not self.state.is_active and self.review.is_open

    @property
    def can_retry(self) -> bool:
        """It may run again as a new attempt: it ended and its review is not settled."""
        return self.state.is_terminal and not self.review.is_settled

    def with_(self, **changes: Any) -> "Task":
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (what `agentdeck show --json` prints)."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["state"] = self.state.value
        out["review"] = self.review.value
        return out


#: How the review inbox can be ordered: by the time each task has waited, or batch by batch.
REVIEW_ORDERS = ("oldest", "batch")


def review_order(tasks: Iterable[Task], order: str = "oldest") -> list[Task]:
    """The tasks waiting for review in inbox order (the one rule the engine's
    `review_queue`, the CLI and the desktop inbox share).

    ``oldest``: the one that has waited longest first (it finished first). ``batch``: batch
    by batch, the batch whose first task has waited longest first, tasks of no batch last;
    oldest first within each.
    """
    def waited(task: Task) -> tuple[float, str]:
        return (task.created_at if task.finished_at is None else task.finished_at, task.id)

    ordered = sorted(tasks, key=waited)
    if order == "oldest":
        return ordered
    if order != "batch":
        raise InvalidInput(f"unknown review order {order!r}: use {' or '.join(REVIEW_ORDERS)}")
    rank: dict[str | None, int] = {}
    for task in ordered:
        rank.setdefault(task.batch_id, len(rank))
    return sorted(ordered, key=lambda t: (t.batch_id is None, rank[t.batch_id]))


@dataclass(frozen=True)
class Comment:
    """A reviewer's comment on lines of a task's diff, for the agent's next attempt.

    Attributes:
        id: Its number in the store.
        task_id: The task.
        attempt: The attempt whose diff it comments on.
        path: The file (as the diff names it).
        line: The first commented line (new side of the diff, from 1).
        end_line: The last commented line (``line`` for one line).
        quote: Those lines as they were when the comment was made.
        text: What the reviewer wrote.
        created_at: When (epoch seconds).
        sent_in: The attempt that received it in its follow-up (``None``: not sent yet).
    """

    id: int
    task_id: str
    attempt: int
    path: str
    line: int
    end_line: int
    quote: str
    text: str
    created_at: float
    sent_in: int | None = None

    @property
    def where(self) -> str:
        """``PATH:LINE`` or ``PATH:LINE-END``."""
        span = str(self.line) if self.end_line == self.line else f"{self.line}-{self.end_line}"
        return f"{self.path}:{span}"


@dataclass(frozen=True)
class TaskSummary:
    """One row of a best-of-N comparison or a batch report: how a task went.

    Attributes:
        duration: Seconds it ran (until now while running; ``None``: not started).
        failure: Why it did not succeed (its error and the last lines it wrote on stderr),
            ``None`` when it succeeded or has not ended.
        test_result: The repo's tests on its change (`core.task_tests`): running, passed,
            failed, error; ``None``: not run (no change, or no test command).
        test_summary: What the test run said in one line.
    """

    id: str
    title: str
    agent: str
    state: TaskState
    review: ReviewState
    files: int
    added: int
    removed: int
    duration: float | None
    cost_usd: float
    failure: str | None = None
    test_result: str | None = None
    test_summary: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (what ``--json`` prints)."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out.update(state=self.state.value, review=self.review.value)
        return out


@dataclass(frozen=True)
class Report:
    """What happened to a set of tasks (a batch, or the ones submitted last night).

    Attributes:
        title: What the set is, for a heading ("batch nightly", "last night").
        since: For "last night": the time the window starts (epoch seconds).
    """

    title: str
    tasks: tuple[TaskSummary, ...]
    since: float | None = None

    @property
    def cost_usd(self) -> float:
        return sum(t.cost_usd for t in self.tasks)

    def count(self, *states: TaskState) -> int:
        return sum(t.state in states for t in self.tasks)

    @property
    def failures(self) -> int:
        """Tasks that failed or ran out of time (`TaskState.is_failure`)."""
        return sum(t.state.is_failure for t in self.tasks)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "since": self.since, "cost_usd": self.cost_usd,
                "tasks": [t.to_dict() for t in self.tasks]}


@dataclass(frozen=True)
class Overlap:
    """Another running or waiting task that touches some of the same files.

    Attributes:
        task: The other task's id.
        paths: The files both change, sorted.
    """

    task: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Freshening:
    """What `freshen` did to one task.

    Attributes:
        task: The task's id.
        outcome: ``freshened`` (its change now sits on the branch's head), ``current``
            (it already did), ``conflict`` (it does not merge; nothing changed) or
            ``handed_back`` (the conflict went to its agent as a follow-up).
        conflicts: The conflicting files.
    """

    task: str
    outcome: str
    conflicts: tuple[str, ...] = ()


@dataclass(frozen=True)
class LandStep:
    """Progress of `land`: task ``index`` (from 0) of ``total`` reached ``stage``
    (``testing``, ``landed``, ``failed`` or ``conflict``)."""

    task: str
    index: int
    total: int
    stage: str


@dataclass(frozen=True)
class LandReport:
    """What `land` did.

    Attributes:
        landed: ``(task id, commit)`` of each task landed, in order.
        failed: The task the queue stopped at, or ``None`` when all landed.
        reason: Why it stopped there (tests failed, a conflict).
        output: The failing test run's output (its last part when long).
        test_command: The test command run after each ("" when there was none).
    """

    landed: tuple[tuple[str, str], ...]
    failed: str | None = None
    reason: str = ""
    output: str = ""
    test_command: str = ""


@dataclass(frozen=True)
class Batch:
    id: str
    name: str
    created_at: float
    not_before: float | None = None
    budget_usd: float | None = None


@dataclass(frozen=True)
class AgentProfile:
    """How to run one kind of agent. Loaded from `agents.toml`.

    ``command`` is an argv template; ``{prompt}`` and friends are substituted per
    argument, never through a shell, so prompt text cannot inject commands.
    """

    name: str
    kind: str = "shell"
    command: tuple[str, ...] = ()
    env: tuple[str, ...] = ()          # names of host environment variables passed through
    secrets: tuple[str, ...] = ()      # env var names whose values are masked everywhere
    timeout: float | None = None
    runtime: str | None = None         # None: the engine default
    image: str = "agentdeck-agent:latest"
    network: bool = False
    memory: str = "2g"
    cpus: float | None = None          # None: all of the daemon's CPUs but one (at least 1)
    disk: str = "10g"                  # most a container's writable layer may hold
    pids: int = 512
    provider: str | None = None
    model: str | None = None
    budget_usd: float | None = None    # default budget of each task of this profile
    test_command: str | None = None    # what `land` runs after each task (a shell line)
    setup: str | None = None           # shell script run before the agent, with network
    copy_files: tuple[str, ...] = ()   # untracked repo files copied in, never in the diff
    sandbox: str = "bwrap"             # local runtime: "bwrap" confines, "none" opts out
    home_files: tuple[str, ...] = ()   # paths under the user's home copied to the agent's
    read_only_paths: tuple[str, ...] = ()  # extra host paths the local sandbox shows (ro)
    description: str = ""              # one line for people: what runs, and how
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StorageEntry:
    """The disk one task's files take (working copy, its index, its run files).

    Attributes:
        task_id: The task (its folder name; the task itself may be gone).
        repo: The task's repository, ``""`` for an orphan.
        state: The task's state value, ``""`` for an orphan.
        review: The task's review value, ``""`` for an orphan.
        bytes: Allocated bytes, each inode counted once over the whole report.
        removable: Why `gc` removes these files now (``None``: they are kept).
    """

    task_id: str
    repo: str
    state: str
    review: str
    bytes: int
    removable: str | None = None


@dataclass(frozen=True)
class StorageReport:
    """What agentdeck keeps on disk (see `agentdeck.engine.workspace.space` for what
    is counted).

    Attributes:
        tasks: One entry per task with files, largest first.
        repos: Bytes per repository: its tasks' files plus its private git dir.
        base_layers: Bytes of Docker base images (label ``agentdeck.base``) by tag.
        retention_days: The retention setting the ``removable`` reasons used.
        unused_layers: The base layers no kept task starts from (`gc` removes them).
    """

    tasks: tuple[StorageEntry, ...]
    repos: dict[str, int]
    base_layers: dict[str, int]
    retention_days: float
    unused_layers: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return sum(self.repos.values()) + sum(self.base_layers.values()) + sum(
            e.bytes for e in self.tasks if not e.repo)

    @property
    def removable(self) -> tuple[StorageEntry, ...]:
        return tuple(e for e in self.tasks if e.removable)


def format_size(count: int) -> str:
    """``count`` bytes as people read them: ``512 B``, ``12.3 MB`` (powers of 1024)."""
    if count < 1024:
        return f"{count} B"
    value = count / 1024
    for unit in ("KB", "MB", "GB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"
