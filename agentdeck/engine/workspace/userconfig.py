"""The user's git settings that accept reads, all in one ``git config`` call.

Accept needs the user's identity, whether they sign, their hooks folder, their filter
drivers and whether they chose a number of checkout workers. Asked one by one that was
six git processes per accept; on a loaded machine each start costs tens of ms.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from agentdeck.engine.errors import RepoError
from agentdeck.engine.workspace.gitcmd import Git

# git gives section and key names in lower case (a subsection keeps its case).
_KEYS = (r"^(user\.(name|email)|commit\.gpgsign|checkout\.workers|core\.hookspath"
         r"|filter\..+\.(clean|smudge|process))$")
_TRUE, _FALSE = ("true", "yes", "on"), ("false", "no", "off", "")


@dataclass(frozen=True)
class UserConfig:
    """Settings as ``(scope, key, value)`` in git's order (later wins); ``value`` is
    ``None`` for a key written without ``=`` (a true boolean)."""

    entries: tuple[tuple[str, str, str | None], ...]

    @classmethod
    def read(cls, git: Git) -> "UserConfig":
        """Read them with the user's ``git`` (their config files apply)."""
        proc = git.run("config", "-z", "--show-scope", "--get-regexp", _KEYS, ok=(0, 1))
        fields = [os.fsdecode(f) for f in proc.stdout.split(b"\0")]
        entries = []
        for scope, item in zip(fields[::2], fields[1::2]):
            key, sep, value = item.partition("\n")
            entries.append((scope, key, value if sep else None))
        return cls(tuple(entries))

    def get(self, key: str, *, skip_scope: str = "") -> str | None:
        """The value of ``key`` that applies (a valueless key reads as "")."""
        values = [v for scope, k, v in self.entries if k == key and scope != skip_scope]
        return None if not values else (values[-1] or "")

    def flag(self, key: str) -> bool:
        """``key`` as git reads a boolean (unset: False)."""
        values = [v for _scope, k, v in self.entries if k == key]
        if not values or values[-1] is None:
            return bool(values)
        value = values[-1].strip().lower()
        if value in _TRUE or value in _FALSE:
            return value in _TRUE
        if value.lstrip("-").isdigit():
            return int(value) != 0
        raise RepoError(f"bad boolean value {values[-1]!r} for {key} in your git config")

    def path(self, key: str, *, skip_scope: str = "") -> str | None:
        """``key`` as a path, ``~`` expanded as git does; None when unset or empty."""
        value = self.get(key, skip_scope=skip_scope)
        return os.path.expanduser(value) if value else None

    def filter_drivers(self) -> set[str]:
        """Names of the filter drivers a command is defined for."""
        return {k[len("filter."):k.rindex(".")] for _scope, k, _v in self.entries
                if k.startswith("filter.")}
