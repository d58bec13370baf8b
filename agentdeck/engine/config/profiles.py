"""Agent profiles: the built-in ``agentdeck/resources/agents.toml`` merged with the user's file.

A user table named like a built-in profile changes only the fields it sets; a new name
adds a profile. Every field is checked (type, range, known placeholders) and an error
names the file, the line, the profile and the field.
"""
from __future__ import annotations

import os
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path, PurePosixPath
from typing import Any

from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.models import AgentProfile
from agentdeck.engine.config.resources import resource_path
from agentdeck.engine.config.tomlsource import TomlSource

KINDS = ("shell", "claude_code", "codex", "aider", "gemini", "builtin")
PLACEHOLDERS = ("prompt", "task_id", "title", "session_id")
USER_FILE = "agents.toml"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MEMORY = re.compile(r"\d+(\.\d+)?[bkmg]?", re.IGNORECASE)


class _Bad(Exception):
    """A field value is wrong; the message is the reason."""


def load_profiles(data_dir: Path) -> dict[str, AgentProfile]:
    """All profiles: the built-in ones overridden and extended by ``<data_dir>/agents.toml``.

    Raises:
        InvalidInput: The user's file is unreadable or invalid (message names the line).
    """
    profiles = builtin_profiles()
    user_file = data_dir / USER_FILE
    if user_file.exists():
        text = _read(user_file)
        profiles.update(validate_profiles_text(text, source=str(user_file), base=profiles))
    return profiles


def builtin_profiles() -> dict[str, AgentProfile]:
    """The profiles shipped in ``agentdeck/resources/agents.toml``."""
    path = resource_path(USER_FILE)
    return validate_profiles_text(_read(path), source=str(path), base={})


def validate_profiles_text(
    text: str,
    *,
    source: str = USER_FILE,
    base: Mapping[str, AgentProfile] | None = None,
) -> dict[str, AgentProfile]:
    """Check the text of an ``agents.toml`` and return the profiles it defines.

    Args:
        text: TOML with one ``[profiles.NAME]`` table per profile.
        source: The file name used in error messages.
        base: Profiles that tables of the same name extend (default: the built-in ones);
            ``{}`` makes every table stand alone.

    Raises:
        InvalidInput: Syntax error (with line and column), unknown field, wrong type,
            unknown kind or placeholder, or a missing command; names profile and field.
    """
    doc = TomlSource(text, source)
    extra = sorted(set(doc.data) - {"profiles"})
    if extra:
        doc.fail((extra[0],), f"unknown top-level key {extra[0]!r}; write [profiles.NAME] tables")
    tables = doc.data.get("profiles", {})
    if not isinstance(tables, dict):
        doc.fail(("profiles",), "'profiles' must be a table of [profiles.NAME] tables")
    base = builtin_profiles() if base is None else base
    return {name: _profile(doc, name, table, base.get(name)) for name, table in tables.items()}


def write_user_profiles(data_dir: Path, text: str) -> dict[str, AgentProfile]:
    """Validate ``text`` and, only if it is valid, replace ``<data_dir>/agents.toml``.

    Returns:
        All profiles as `load_profiles` will now see them.

    Raises:
        InvalidInput: The text is invalid; the file on disk is left as it was.
    """
    path = data_dir / USER_FILE
    validate_profiles_text(text, source=str(path))
    partial = path.with_name(f".{USER_FILE}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)  # a crash mid-write never leaves half a file
    return load_profiles(data_dir)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read agent profiles {path}: {exc}") from exc


def _profile(
    doc: TomlSource, name: str, table: Any, base: AgentProfile | None
) -> AgentProfile:
    where = f"profile {name!r}"
    if not _NAME.fullmatch(name):
        doc.fail(("profiles", name), f"{where}: a name may hold letters, digits, '_', '.', '-'")
    if not isinstance(table, dict):
        doc.fail(("profiles", name), f"{where} must be a table: write [profiles.{name}]")
    values: dict[str, Any] = {}
    for key, raw in table.items():
        check = _CHECKS.get(key)
        if check is None:
            known = ", ".join(sorted(_CHECKS))
            doc.fail(("profiles", name, key), f"{where}: unknown field {key!r}; known: {known}")
        try:
            values[key] = check(raw)
        except _Bad as exc:
            doc.fail(("profiles", name, key), f"{where}, field {key!r}: {exc}")
    merged = _merge(base, name, values)
    if merged.kind != "builtin" and "prompt" not in _placeholders(merged.command):
        reason = "needs a command containing {prompt}" if merged.command else "has no command"
        doc.fail(("profiles", name, "command"), f"{where}, field 'command': {reason}")
    return merged


def _merge(base: AgentProfile | None, name: str, values: dict[str, Any]) -> AgentProfile:
    start = {f.name: getattr(base, f.name) for f in fields(AgentProfile)} if base else {}
    return AgentProfile(**{**start, **values, "name": name})


def _kind(value: Any) -> str:
    if value not in KINDS:
        raise _Bad(f"{value!r} is not a kind; use one of {', '.join(KINDS)}")
    return value


def _command(value: Any) -> tuple[str, ...]:
    args = _strings(value)
    for arg in args:
        try:
            unknown = [name for name in _placeholders([arg]) if name not in PLACEHOLDERS]
        except ValueError as exc:
            hint = "write {{ and }} for literal braces"
            raise _Bad(f"argument {arg!r}: {exc} ({hint})") from None
        if unknown:
            allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise _Bad(f"unknown placeholder {{{unknown[0]}}} in {arg!r}; use {allowed}")
    return args


def _placeholders(args: tuple[str, ...] | list[str]) -> list[str]:
    """The ``{name}`` fields used in argv templates (``{{`` is a literal brace)."""
    parser = string.Formatter()
    return [name for arg in args for _, name, _, _ in parser.parse(arg) if name is not None]


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Bad(f"expected a list of strings, got {value!r}")
    return tuple(value)


def _env_names(value: Any) -> tuple[str, ...]:
    names = _strings(value)
    for item in names:
        if not _ENV_NAME.fullmatch(item):
            raise _Bad(f"{item!r} is not an environment variable name")
    return names


def _repo_paths(value: Any) -> tuple[str, ...]:
    paths = _strings(value)
    for item in paths:
        parts = PurePosixPath(item).parts
        if item.startswith("/") or ".." in parts or ".git" in parts or not parts:
            raise _Bad(f"{item!r} must be a path inside the repository (no /, .., .git)")
    return paths


SANDBOXES = ("bwrap", "none")


def _sandbox(value: Any) -> str:
    if value not in SANDBOXES:
        raise _Bad(f"{value!r} is not a sandbox; use \"bwrap\" (confined, the default) or "
                   "\"none\" (the agent runs unconfined as you)")
    return value


def _home_paths(value: Any) -> tuple[str, ...]:
    paths = _strings(value)
    for item in paths:
        parts = PurePosixPath(item).parts
        if item.startswith(("/", "~")) or ".." in parts or not parts:
            raise _Bad(f"{item!r} must be a path relative to your home (no /, ~, ..), "
                       "e.g. \".codex/auth.json\"")
    return paths


def _host_paths(value: Any) -> tuple[str, ...]:
    paths = _strings(value)
    for item in paths:
        if not item.startswith("/") or ".." in PurePosixPath(item).parts:
            raise _Bad(f"{item!r} must be an absolute path without '..'")
    return paths


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"expected a non-empty string, got {value!r}")
    return value


def _positive(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _Bad(f"expected a number above zero, got {value!r}")
    return float(value)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _Bad(f"expected a whole number above zero, got {value!r}")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, got {value!r}")
    return value


def _memory(value: Any) -> str:
    if not isinstance(value, str) or not _MEMORY.fullmatch(value):
        raise _Bad(f"expected a size such as \"512m\" or \"2g\", got {value!r}")
    return value


def _options(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(f"expected a table, got {value!r}")
    return value


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "kind": _kind, "command": _command, "env": _env_names, "secrets": _env_names,
    "timeout": _positive, "runtime": _text, "image": _text, "network": _flag,
    "memory": _memory, "disk": _memory, "cpus": _positive, "pids": _count, "provider": _text, "model": _text,
    "budget_usd": _positive, "setup": _text, "copy_files": _repo_paths, "options": _options,
    "sandbox": _sandbox, "home_files": _home_paths, "read_only_paths": _host_paths,
    "description": _text, "test_command": _text,
}
