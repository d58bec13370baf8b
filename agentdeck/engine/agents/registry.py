"""Which adapter reads which kind of agent: ``adapter_for(profile)``."""
from __future__ import annotations

from agentdeck.engine.agents.aider import AiderAdapter
from agentdeck.engine.agents.base import AgentAdapter
from agentdeck.engine.agents.claude_code import ClaudeCodeAdapter
from agentdeck.engine.agents.codex import CodexAdapter
from agentdeck.engine.agents.gemini import GeminiAdapter
from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.models import AgentProfile, Task

ADAPTERS: dict[str, type[AgentAdapter]] = {
    "shell": AgentAdapter,
    "claude_code": ClaudeCodeAdapter,
    "codex": CodexAdapter,
    "aider": AiderAdapter,
    "gemini": GeminiAdapter,
}


def adapter_for(profile: AgentProfile, task: Task | None = None) -> AgentAdapter:
    """A fresh adapter for one attempt of an agent of ``profile.kind``.

    Args:
        profile: The agent profile.
        task: The task whose attempt the adapter will read. Codex reports the token usage
            of its whole thread, so for a follow-up that resumes the thread the adapter
            subtracts what the task already counted.

    Raises:
        InvalidInput: No adapter knows this kind.
    """
    cls = ADAPTERS.get(profile.kind)
    if cls is None:
        known = ", ".join(sorted(ADAPTERS))
        raise InvalidInput(f"agent profile {profile.name!r} has kind {profile.kind!r}, "
                           f"which no adapter reads; use one of {known}")
    if cls is CodexAdapter and task is not None and task.follow_up and task.session_id:
        return CodexAdapter(profile, usage_before=(task.tokens_in, task.tokens_out))
    return cls(profile)
