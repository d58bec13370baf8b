"""Batch files: many tasks described in one TOML file (format: docs/batch-files.md).

Parsing is all or nothing: the first problem raises `BatchError` naming the file, the
line and the reason, and no task is returned.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w

from agentdeck.engine import validate
from agentdeck.engine.batch.check import TOP_KEYS, BatchReader
from agentdeck.engine.errors import BatchError, InvalidInput
from agentdeck.engine.timeparse import parse_when
from agentdeck.engine.config.tomlsource import TomlSource


@dataclass(frozen=True)
class TaskSpec:
    """One task to submit. ``None`` settings mean "the engine's default".

    ``origin`` says where the task was written (``"jobs.toml line 12"``), so that the
    engine's refusal of it can say so too; it is not part of the task's value.
    """

    prompt: str
    repo: str
    title: str = ""
    agent: str | None = None
    runtime: str | None = None
    priority: int = 0
    not_before: float | None = None
    timeout: float | None = None
    origin: str = field(default="", compare=False)


@dataclass(frozen=True)
class BatchSpec:
    """A parsed batch: its name, its tasks in file order, its start time and budget."""

    name: str
    tasks: tuple[TaskSpec, ...]
    not_before: float | None = None
    budget_usd: float | None = None  # all its tasks together stop once they cost this


def parse_batch_file(
    path: Path | str,
    *,
    default_repo: Path | str | None = None,
    at_override: str | float | None = None,
    agents: Collection[str] | None = None,
    now: datetime | None = None,
) -> BatchSpec:
    """Read and check a batch file; relative repo paths are relative to its folder.

    See `parse_batch_text` for the arguments and errors.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchError(f"cannot read batch file {path}: {exc}") from exc
    return parse_batch_text(text, source=str(path), base_dir=path.parent,
                            default_repo=default_repo, at_override=at_override,
                            agents=agents, now=now)


def parse_batch_text(
    text: str,
    *,
    source: str,
    base_dir: Path | str,
    default_repo: Path | str | None = None,
    at_override: str | float | None = None,
    agents: Collection[str] | None = None,
    now: datetime | None = None,
) -> BatchSpec:
    """Check the text of a batch file and return every task it describes.

    Args:
        text: The TOML text.
        source: The file name used in messages; its stem is the default batch name.
        base_dir: What relative ``repo`` paths are relative to.
        default_repo: The repo of tasks that name none (the file's ``repo`` wins).
        at_override: A start time for the whole batch and all its tasks, replacing any
            ``at`` in the file (a `parse_when` string or epoch seconds).
        agents: Known profile names; when given, any other agent name is an error.
        now: The reference time for relative times (default: the current time).

    Raises:
        BatchError: Invalid TOML, unknown keys, wrong types, empty prompts, a missing
            or nonexistent repo, a bad time, or a glob matching no file.
        InvalidInput: ``at_override`` is not a time, or ``default_repo`` is needed
            and does not exist.
    """
    doc = TomlSource(text, source, BatchError)
    reader = BatchReader(doc, Path(base_dir), agents, now)
    data = doc.data
    reader.check_keys(data, (), TOP_KEYS, "at the top level")
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str) or not name.strip():
        doc.fail(("name",), f"'name' must be a non-empty string, got {name!r}")
    reader.check(lambda text: validate.text(text, "the batch name"), name, ("name",))
    defaults = reader.settings(data, ())
    if default_repo is not None and "repo" not in defaults:
        defaults["repo"] = _default_repo(default_repo)
    fields = reader.tasks(data.get("task", []), defaults)
    if "template" in data:
        fields += reader.template(data["template"], defaults)
    if not fields:
        doc.fail((), "no tasks: add [[task]] entries or a [template] table")
    tasks = [TaskSpec(**task) for task in fields]
    budget = reader.check(validate.budget, data.get("budget_usd"), ("budget_usd",))
    not_before = defaults.get("at")
    if at_override is not None:
        not_before = _override_time(at_override, now)
        tasks = [replace(task, not_before=not_before) for task in tasks]
    return BatchSpec(name=name, tasks=tuple(tasks), not_before=not_before, budget_usd=budget)


def dump_batch(spec: BatchSpec) -> str:
    """The TOML text of ``spec``; `parse_batch_text` reads it back to an equal spec.

    TOML cannot say "no start time" for one task, so a task whose ``not_before`` is
    None in a batch that has one reads back with the batch's time, as parsing makes it.
    """
    doc: dict[str, Any] = {"name": spec.name}
    if spec.not_before is not None:
        doc["at"] = _as_datetime(spec.not_before)
    if spec.budget_usd is not None:
        doc["budget_usd"] = spec.budget_usd
    doc["task"] = [_task_table(task) for task in spec.tasks]
    return tomli_w.dumps(doc, multiline_strings=True)


def _task_table(task: TaskSpec) -> dict[str, Any]:
    table: dict[str, Any] = {"prompt": task.prompt, "repo": task.repo}
    optional = {"title": task.title or None, "agent": task.agent, "runtime": task.runtime,
                "priority": task.priority or None, "timeout": task.timeout}
    table.update({key: value for key, value in optional.items() if value is not None})
    if task.not_before is not None:
        table["at"] = _as_datetime(task.not_before)
    return table


def _as_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC).astimezone()


def _default_repo(path: Path | str) -> str:
    repo = Path(path).expanduser().resolve()
    if not repo.is_dir():
        raise InvalidInput(f"the repo {str(path)!r} given for the batch does not exist")
    return str(repo)


def _override_time(value: str | float, now: datetime | None) -> float:
    return parse_when(value, now) if isinstance(value, str) else float(value)
