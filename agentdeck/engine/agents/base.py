"""The agent adapter interface.

An adapter knows one agent CLI: it builds the argv for a task (from the profile's command
template) and turns each output line into a structured `ParsedEntry`. Parsing must never
raise: anything it does not understand becomes a RAW entry with the line kept verbatim.

Entries may carry engine-facing facts in ``data``:
- ``usage``: {"input_tokens": int, "output_tokens": int, "cost_usd": float} (added up per task)
- ``session_id``: str (kept on the task, used for follow-ups)
- ``question``: str (the agent waits for the user: the task goes to needs_input)
"""
from __future__ import annotations

from agentdeck.engine.models import AgentProfile, EntryKind, ParsedEntry, Stream, Task
from agentdeck.engine.errors import InvalidInput


class AgentAdapter:
    """Base adapter: a plain command whose output lines are raw log lines."""

    kind = "shell"
    #: Whether the agent made a tool call (a command, an edit), for adapters that track it:
    #: a run that ends with none and no change is reported as doing nothing. None: this
    #: adapter does not tell.
    acted: bool | None = None

    def __init__(self, profile: AgentProfile) -> None:
        self.profile = profile

    def notes(self) -> list[str]:
        """Lines for the task's log about how the agent was set up (after `argv`)."""
        return []

    def argv(self, task: Task, prompt: str) -> list[str]:
        """The command for one attempt; ``prompt`` is the task prompt or the follow-up."""
        if not self.profile.command:
            raise InvalidInput(f"agent profile {self.profile.name!r} has no command")
        return render_argv(self.profile.command, prompt=prompt, task=task)

    def parse(self, stream: Stream, line: str) -> ParsedEntry:
        kind = EntryKind.RAW
        return ParsedEntry(kind, line)


def render_argv(template: tuple[str, ...] | list[str], *, prompt: str, task: Task) -> list[str]:
    """Substitute placeholders inside each argument separately — never through a shell.

    Supported: {prompt}, {task_id}, {title}, {session_id}. Literal braces: {{ and }}.
    """
    values = {
        "prompt": prompt,
        "task_id": task.id,
        "title": task.title,
        "session_id": task.session_id or "",
    }
    out = []
    for arg in template:
        try:
            out.append(arg.format_map(values))
        except (KeyError, ValueError, IndexError) as exc:
            raise InvalidInput(f"bad placeholder in command argument {arg!r}: {exc}") from exc
    return out
