"""What one diagnosis check found: `Check`, and `Report`, the whole diagnosis."""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Status(str, enum.Enum):
    """``ok``; ``warn``: worth knowing, nothing the user's profiles need is missing;
    ``fail``: something a profile the user uses needs is missing or broken."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    """One thing checked.

    Args:
        group: What it belongs to ("docker", "local sandbox", "agents", ...).
        name: What was checked ("endpoint local", "aider CLI").
        status: `Status`.
        detail: What was found, in one line.
        fix: What to do about a warning or failure ("" when ok).
    """

    group: str
    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return {**asdict(self), "status": self.status.value}


def ok(group: str, name: str, detail: str) -> Check:
    return Check(group, name, Status.OK, detail)


def problem(group: str, name: str, detail: str, fix: str, needed: bool) -> Check:
    """A failure when ``needed`` (a profile the user uses needs it), else a warning."""
    return Check(group, name, Status.FAIL if needed else Status.WARN, detail, fix)


@dataclass(frozen=True)
class Report:
    """Every check, in a stable order, and what the user's setup was found to need.

    Attributes:
        needs: What decided which problems are failures (see `agentdeck.engine.doctor.needs`).
    """

    checks: tuple[Check, ...]
    needs: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No check failed (warnings allowed)."""
        return all(c.status != Status.FAIL for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "needs": self.needs, "checks": [c.to_dict() for c in self.checks]}
