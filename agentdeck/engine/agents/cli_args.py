"""Building agent CLI command lines from a profile's argv template and its options.

The template (``profile.command``) holds ``{prompt}``. A prompt may start with ``-``,
which a CLI would read as an option, so when ``{prompt}`` is an argument of its own the
prompt is moved to the end of the command: after ``--`` when it is positional, or joined
as ``--option=PROMPT`` when it is the value of an option. Flags derived from
``profile.options`` replace the same flag in the template instead of repeating it.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

from agentdeck.engine.agents.base import render_argv
from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.models import AgentProfile, Task

_SENTINEL = "\x00agentdeck-prompt\x00"
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

#: Option names every CLI adapter accepts: ``extra_args`` are appended verbatim; the
#: engine reads ``egress`` (hosts a container may reach, docs/egress.md) and
#: ``setup_timeout`` (seconds for the profile's setup script).
COMMON_OPTIONS: dict[str, type | tuple[type, ...]] = {
    "extra_args": list, "model": str, "egress": list, "setup_timeout": (int, float)}


@dataclass
class CommandLine:
    """A rendered template: ``args`` without the prompt, then ``tail`` that carries it."""

    args: list[str]
    tail: list[str]

    def set(self, value: str, *names: str) -> None:
        """Give option ``names[0]`` (or an alias already in the template) this value."""
        for i, arg in enumerate(self.args):
            if arg in names and i + 1 < len(self.args):
                self.args[i + 1] = value
                return
            for name in names:
                if name.startswith("--") and arg.startswith(name + "="):
                    self.args[i] = f"{name}={value}"
                    return
        self.args += [names[0], value]

    def default(self, value: str, *names: str) -> None:
        """Give option ``names[0]`` this value unless the template sets it (or an alias)."""
        if not any(arg in names or arg.split("=", 1)[0] in names for arg in self.args):
            self.args += [names[0], value]

    def flag(self, *names: str) -> None:
        """Add boolean flag ``names[0]`` unless the template has it (or an alias)."""
        if not any(arg in names for arg in self.args):
            self.args.append(names[0])

    def final(self, extra: list[str]) -> list[str]:
        return self.args + extra + self.tail


def command_line(profile: AgentProfile, task: Task, prompt: str,
                 prompt_options: Mapping[str, str] | None = None) -> CommandLine:
    """Render ``profile.command`` and take the prompt out of it (see the module doc).

    Args:
        profile: The agent profile; its command must contain ``{prompt}``.
        task: The task (for ``{task_id}``, ``{title}``, ``{session_id}``).
        prompt: The prompt or follow-up text.
        prompt_options: Options whose value is the prompt, mapped to the long form used
            as ``--long=PROMPT`` (``{"-p": "--prompt", "--prompt": "--prompt"}``).

    Raises:
        InvalidInput: The command is empty or has no ``{prompt}``.
    """
    if not profile.command:
        raise InvalidInput(f"agent profile {profile.name!r} has no command")
    args = render_argv(profile.command, prompt=_SENTINEL, task=task)
    where = [i for i, arg in enumerate(args) if _SENTINEL in arg]
    if not where:
        raise InvalidInput(f"agent profile {profile.name!r}: its command has no {{prompt}} "
                           f"argument; add one, e.g. [..., \"{{prompt}}\"]")
    i = where[0]
    if args[i] != _SENTINEL or len(where) > 1:  # prompt inside a longer argument: keep it
        return CommandLine([arg.replace(_SENTINEL, prompt) for arg in args], [])
    before = args[i - 1] if i else ""
    long_form = (prompt_options or {}).get(before)
    if long_form:
        return CommandLine(args[: i - 1] + args[i + 1:], [f"{long_form}={prompt}"])
    return CommandLine(args[:i] + args[i + 1:], ["--", prompt])


def checked_options(profile: AgentProfile,
                    known: Mapping[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """``profile.options`` after checking names and value types.

    Raises:
        InvalidInput: An unknown option or a value of the wrong type (names both).
    """
    options = dict(profile.options or {})
    for name, value in options.items():
        expected = known.get(name)
        if expected is None:
            names = ", ".join(sorted(known))
            raise InvalidInput(f"agent profile {profile.name!r}: unknown option {name!r} for "
                               f"kind {profile.kind!r}; known options: {names}")
        if isinstance(value, bool) and expected is not bool or not isinstance(value, expected):
            raise InvalidInput(f"agent profile {profile.name!r}: option {name!r} has the wrong "
                               f"type ({type(value).__name__}: {value!r})")
        if expected is list and not all(isinstance(item, str) for item in value):
            raise InvalidInput(f"agent profile {profile.name!r}: option {name!r} must be a "
                               f"list of strings, got {value!r}")
    return options


def model_of(profile: AgentProfile, options: Mapping[str, Any]) -> str | None:
    """The model asked for: ``options.model``, else the profile's ``model`` field."""
    return options.get("model") or profile.model


def is_follow_up(task: Task, prompt: str) -> bool:
    """True when ``prompt`` is the follow-up of a finished attempt, not the task prompt."""
    return bool(task.follow_up) and prompt == task.follow_up


def toml_value(value: Any) -> str:
    """``value`` written as a TOML value, for ``-c key=VALUE`` overrides.

    Raises:
        InvalidInput: A value TOML cannot hold (None, an object).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string (same escapes, \uXXXX included).
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{toml_key(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise InvalidInput(f"cannot write {value!r} as a TOML value")


def toml_key(key: str) -> str:
    """A TOML key: bare when it can be, else quoted."""
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)
