"""The checks behind batch files: keys, types, repos, times and template globs.

`agentdeck.engine.batch.file` drives a `BatchReader` over one document; every method fails with
`BatchError` at the line of the offending key. The rules on values that any task must
keep (prompt, timeout, priority...) are `agentdeck.engine.validate`'s, so a batch file says the same
as `agentdeck submit` and the desktop.
"""
from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Callable, TypeVar

from agentdeck.engine import validate
from agentdeck.engine.errors import AgentdeckError, InvalidInput
from agentdeck.engine.batch.repoglob import match_files, repo_files
from agentdeck.engine.timeparse import parse_when
from agentdeck.engine.config.tomlsource import KeyPath, TomlSource

T = TypeVar("T")

SETTINGS = ("repo", "agent", "runtime", "priority", "at", "timeout")
TOP_KEYS = {"name", "task", "template", "budget_usd", *SETTINGS}
_TASK_KEYS = {"prompt", "title", *SETTINGS}
_TEMPLATE_KEYS = {"prompt", "paths", "title", *SETTINGS}


class BatchReader:
    """Checks the tables of one batch document, failing with the line of the bad key.

    Args:
        doc: The parsed document.
        base_dir: What relative ``repo`` paths are relative to.
        agents: Known profile names, or None to accept any name.
        now: The reference time for relative times.
    """

    def __init__(self, doc: TomlSource, base_dir: Path, agents: Collection[str] | None,
                 now: datetime | None) -> None:
        self.doc = doc
        self.base_dir = base_dir
        self.agents = agents
        self.now = now

    def check_keys(self, table: dict[str, Any], path: KeyPath, allowed: set[str],
                   where: str) -> None:
        """Fail at the first key of ``table`` that is not in ``allowed``."""
        for key in table:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.doc.fail(path + (key,), f"unknown key {key!r} {where}; known keys: {known}")

    def settings(self, table: dict[str, Any], path: KeyPath) -> dict[str, Any]:
        """The checked values of the shared settings present in ``table``."""
        readers = {"repo": self._repo, "agent": self._agent, "runtime": self._word,
                   "priority": self._priority, "at": self._at, "timeout": self._timeout}
        return {key: readers[key](table[key], path + (key,)) for key in SETTINGS if key in table}

    def tasks(self, entries: Any, defaults: dict[str, Any]) -> list[dict[str, Any]]:
        """The fields of every ``[[task]]`` entry, with ``defaults`` filled in."""
        if isinstance(entries, dict):
            self.doc.fail(("task",), "write each task as [[task]] (double brackets)")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            self.doc.fail(("task",), "'task' must be [[task]] tables")
        specs = []
        for index, entry in enumerate(entries):
            path: KeyPath = ("task", index)
            self.check_keys(entry, path, _TASK_KEYS, f"in task {index + 1}")
            prompt = self._prompt(entry, path, f"task {index + 1}")
            title = self._title(entry.get("title", ""), path + ("title",))
            specs.append(self._spec(prompt, title, {**defaults, **self.settings(entry, path)},
                                    path, f"task {index + 1}"))
        return specs

    def template(self, table: Any, defaults: dict[str, Any]) -> list[dict[str, Any]]:
        """The fields of one task per file the ``[template]`` globs match."""
        path: KeyPath = ("template",)
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

    def _spec(self, prompt: str, title: str, settings: dict[str, Any], path: KeyPath,
              label: str) -> dict[str, Any]:
        if "repo" not in settings:
            self.doc.fail(path, f"{label} has no repo: set repo at the top or in the task")
        return {
            "prompt": prompt, "repo": settings["repo"], "title": title,
            "agent": settings.get("agent"), "runtime": settings.get("runtime"),
            "priority": settings.get("priority", 0), "not_before": settings.get("at"),
            "timeout": settings.get("timeout"), "origin": self.doc.where(path),
        }

    def check(self, rule: Callable[[Any], T], value: Any, path: KeyPath) -> T:
        """``rule(value)`` (an `agentdeck.engine.validate` rule), failing at ``path`` with its reason."""
        try:
            return rule(value)
        except AgentdeckError as exc:
            self.doc.fail(path, str(exc))

    def _prompt(self, table: dict[str, Any], path: KeyPath, label: str) -> str:
        if "prompt" not in table:
            self.doc.fail(path, f"{label} has no prompt")
        return self.check(lambda text: validate.prompt(text, f"the prompt of {label}"),
                          table["prompt"], path + ("prompt",))

    def _title(self, value: Any, path: KeyPath) -> str:
        return self.check(validate.title, value, path)

    def _globs(self, table: dict[str, Any], path: KeyPath) -> list[str]:
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

    def _expand(self, globs: list[str], repo: Path, path: KeyPath) -> list[str]:
        files = repo_files(repo)
        chosen: dict[str, None] = {}  # ordered and without duplicates
        for glob in globs:
            matches = match_files(glob, files)
            if not matches:
                self.doc.fail(path, f"glob {glob!r} matches no file in {repo}")
            chosen.update(dict.fromkeys(matches))
        return list(chosen)

    def _repo(self, value: Any, path: KeyPath) -> str:
        raw = self._word(value, path)
        repo = Path(raw).expanduser()
        repo = (self.base_dir / repo if not repo.is_absolute() else repo).resolve()
        if not repo.is_dir():
            self.doc.fail(path, f"repo {raw!r} does not exist (looked for {repo})")
        return str(repo)

    def _agent(self, value: Any, path: KeyPath) -> str:
        name = self._word(value, path)
        if self.agents is None:
            return name
        return self.check(lambda n: validate.name_in(n, self.agents, "agent profile"), name, path)

    def _word(self, value: Any, path: KeyPath) -> str:
        if not isinstance(value, str) or not value.strip():
            self.doc.fail(path, f"{path[-1]!r} must be a non-empty string, got {value!r}")
        return self.check(lambda text: validate.text(text, f"{path[-1]!r}"), value, path)

    def _priority(self, value: Any, path: KeyPath) -> int:
        return self.check(validate.priority, value, path)

    def _at(self, value: Any, path: KeyPath) -> float:
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

    def _timeout(self, value: Any, path: KeyPath) -> float:
        return self.check(validate.timeout, value, path)
