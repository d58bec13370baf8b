"""Batch files: many tasks described in one TOML file (format: docs/batch-files.md).

Parsing is all or nothing: the first problem raises `BatchError` naming the file, the
line and the reason, and no task is returned.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import tomli_w

from engine.errors import BatchError, InvalidInput
from engine.repoglob import match_files, repo_files
from engine.timeparse import parse_duration, parse_when
from engine.tomlsource import Path_, TomlSource

_SETTINGS = ("repo", "agent", "runtime", "priority", "at", "timeout")
_TOP_KEYS = {"name", "task", "template", *_SETTINGS}
_TASK_KEYS = {"prompt", "title", *_SETTINGS}
_TEMPLATE_KEYS = {"prompt", "paths", "title", *_SETTINGS}


@dataclass(frozen=True)
class TaskSpec:
    """One task to submit. ``None`` settings mean "the engine's default"."""

    prompt: str
    repo: str
    title: str = ""
    agent: str | None = None
    runtime: str | None = None
    priority: int = 0
    not_before: float | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class BatchSpec:
    """A parsed batch: its name, its tasks in file order and its start time."""

    name: str
    tasks: tuple[TaskSpec, ...]
    not_before: float | None = None


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
    reader = _Reader(doc, Path(base_dir), agents, now)
    data = doc.data
    reader.check_keys(data, (), _TOP_KEYS, "at the top level")
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str) or not name.strip():
        doc.fail(("name",), f"'name' must be a non-empty string, got {name!r}")
    defaults = reader.settings(data, ())
    if default_repo is not None and "repo" not in defaults:
        defaults["repo"] = _default_repo(default_repo)
    tasks = reader.tasks(data.get("task", []), defaults)
    if "template" in data:
        tasks += reader.template(data["template"], defaults)
    if not tasks:
        doc.fail((), "no tasks: add [[task]] entries or a [template] table")
    not_before = defaults.get("at")
    if at_override is not None:
        not_before = _override_time(at_override, now)
        tasks = [replace(task, not_before=not_before) for task in tasks]
    return BatchSpec(name=name, tasks=tuple(tasks), not_before=not_before)


def dump_batch(spec: BatchSpec) -> str:
    """The TOML text of ``spec``; `parse_batch_text` reads it back to an equal spec.

    TOML cannot say "no start time" for one task, so a task whose ``not_before`` is
    None in a batch that has one reads back with the batch's time, as parsing makes it.
    """
    doc: dict[str, Any] = {"name": spec.name}
    if spec.not_before is not None:
        doc["at"] = _as_datetime(spec.not_before)
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


class _Reader:
    """Checks the tables of one document, failing with the line of the bad key."""

    def __init__(self, doc: TomlSource, base_dir: Path, agents: Collection[str] | None,
                 now: datetime | None) -> None:
        self.doc = doc
        self.base_dir = base_dir
        self.agents = agents
        self.now = now

    def check_keys(self, table: dict[str, Any], path: Path_, allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.doc.fail(path + (key,), f"unknown key {key!r} {where}; known keys: {known}")

    def settings(self, table: dict[str, Any], path: Path_) -> dict[str, Any]:
        """The checked values of the shared settings present in ``table``."""
        readers = {"repo": self._repo, "agent": self._agent, "runtime": self._word,
                   "priority": self._priority, "at": self._at, "timeout": self._timeout}
        return {key: readers[key](table[key], path + (key,)) for key in _SETTINGS if key in table}

    def tasks(self, entries: Any, defaults: dict[str, Any]) -> list[TaskSpec]:
        if isinstance(entries, dict):
            self.doc.fail(("task",), "write each task as [[task]] (double brackets)")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            self.doc.fail(("task",), "'task' must be [[task]] tables")
        specs = []
        for index, entry in enumerate(entries):
            path: Path_ = ("task", index)
            self.check_keys(entry, path, _TASK_KEYS, f"in task {index + 1}")
            prompt = self._prompt(entry, path, f"task {index + 1}")
            title = self._title(entry.get("title", ""), path + ("title",))
            specs.append(self._spec(prompt, title, {**defaults, **self.settings(entry, path)},
                                    path, f"task {index + 1}"))
        return specs

    def template(self, table: Any, defaults: dict[str, Any]) -> list[TaskSpec]:
        path: Path_ = ("template",)
        if not isinstance(table, dict):
            self.doc.fail(path, "'template' must be a [template] table")
        self.check_keys(table, path, _TEMPLATE_KEYS, "in [template]")
        prompt = self._prompt(table, path, "[template]")
        if "{path}" not in prompt:
            self.doc.fail(path + ("prompt",), "the template prompt must contain {path}")
        title = self._title(table.get("title", ""), path + ("title",))
        settings = {**defaults, **self.settings(table, path)}
        if "repo" not in settings:
            self.doc.fail(path, "[template] has no repo: set repo at the top or in [template]")
        files = self._expand(self._globs(table, path), Path(settings["repo"]), path + ("paths",))
        return [self._spec(prompt.replace("{path}", name), title.replace("{path}", name),
                           settings, path, "[template]") for name in files]

    def _spec(self, prompt: str, title: str, settings: dict[str, Any], path: Path_,
              label: str) -> TaskSpec:
        if "repo" not in settings:
            self.doc.fail(path, f"{label} has no repo: set repo at the top or in the task")
        return TaskSpec(
            prompt=prompt, repo=settings["repo"], title=title, agent=settings.get("agent"),
            runtime=settings.get("runtime"), priority=settings.get("priority", 0),
            not_before=settings.get("at"), timeout=settings.get("timeout"),
        )

    def _prompt(self, table: dict[str, Any], path: Path_, label: str) -> str:
        prompt = table.get("prompt")
        if prompt is None:
            self.doc.fail(path, f"{label} has no prompt")
        if not isinstance(prompt, str):
            self.doc.fail(path + ("prompt",), f"{label}: prompt must be a string, got {prompt!r}")
        if not prompt.strip():
            self.doc.fail(path + ("prompt",), f"{label}: prompt is empty")
        return prompt

    def _title(self, value: Any, path: Path_) -> str:
        if not isinstance(value, str):
            self.doc.fail(path, f"'title' must be a string, got {value!r}")
        return value

    def _globs(self, table: dict[str, Any], path: Path_) -> list[str]:
        globs = table.get("paths")
        if globs is None:
            self.doc.fail(path, "[template] needs paths = [\"glob\", ...]")
        if (not isinstance(globs, list) or not globs
                or not all(isinstance(g, str) and g.strip() for g in globs)):
            self.doc.fail(path + ("paths",), f"'paths' must be a list of globs, got {globs!r}")
        for glob in globs:
            if glob.startswith("/") or ".." in glob.split("/"):
                self.doc.fail(path + ("paths",), f"glob {glob!r} must stay inside the repo")
        return globs

    def _expand(self, globs: list[str], repo: Path, path: Path_) -> list[str]:
        files = repo_files(repo)
        chosen: dict[str, None] = {}  # ordered and without duplicates
        for glob in globs:
            matches = match_files(glob, files)
            if not matches:
                self.doc.fail(path, f"glob {glob!r} matches no file in {repo}")
            chosen.update(dict.fromkeys(matches))
        return list(chosen)

    def _repo(self, value: Any, path: Path_) -> str:
        raw = self._word(value, path)
        repo = Path(raw).expanduser()
        repo = (self.base_dir / repo if not repo.is_absolute() else repo).resolve()
        if not repo.is_dir():
            self.doc.fail(path, f"repo {raw!r} does not exist (looked for {repo})")
        return str(repo)

    def _agent(self, value: Any, path: Path_) -> str:
        name = self._word(value, path)
        if self.agents is not None and name not in self.agents:
            known = ", ".join(sorted(self.agents))
            self.doc.fail(path, f"unknown agent {name!r}; profiles: {known}")
        return name

    def _word(self, value: Any, path: Path_) -> str:
        if not isinstance(value, str) or not value.strip():
            self.doc.fail(path, f"{path[-1]!r} must be a non-empty string, got {value!r}")
        return value

    def _priority(self, value: Any, path: Path_) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.doc.fail(path, f"'priority' must be a whole number, got {value!r}")
        return value

    def _at(self, value: Any, path: Path_) -> float:
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, date):
            return datetime.combine(value, time()).timestamp()
        if not isinstance(value, str):
            self.doc.fail(path, f"'at' must be a time such as \"tonight\", got {value!r}")
        try:
            return parse_when(value, self.now)
        except InvalidInput as exc:
            self.doc.fail(path, f"'at': {exc}")

    def _timeout(self, value: Any, path: Path_) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except InvalidInput as exc:
                self.doc.fail(path, f"'timeout': {exc}")
        self.doc.fail(path, f"'timeout' must be seconds or a duration like \"30m\", got {value!r}")
