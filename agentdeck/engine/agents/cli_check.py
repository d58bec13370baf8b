"""Is the agent's CLI installed? Find it on PATH or say how to install it."""
from __future__ import annotations

import os
import shutil

from agentdeck.engine.errors import InvalidInput, RuntimeUnavailable
from agentdeck.engine.models import AgentProfile

#: How to install the CLI each kind of agent runs.
INSTALL: dict[str, str] = {
    "claude_code": "npm install -g @anthropic-ai/claude-code",
    "codex": "npm install -g @openai/codex",
    "gemini": "npm install -g @google/gemini-cli",
    "aider": "pip install aider-chat",
}


def find_cli(profile: AgentProfile, path: str | None = None) -> str:
    """The absolute path of the program the profile's command starts with.

    Only meaningful where the agent runs on this machine (the local runtime); a
    container has its own programs.

    Args:
        profile: The agent profile; ``command[0]`` is the program.
        path: The search path (default: ``$PATH``).

    Raises:
        InvalidInput: The profile has no command.
        RuntimeUnavailable: The program is not installed; the message says how to install it.
    """
    if not profile.command:
        raise InvalidInput(f"agent profile {profile.name!r} has no command")
    program = profile.command[0]
    found = shutil.which(program, path=path if path is not None else os.environ.get("PATH"))
    if found:
        return os.path.abspath(found)
    hint = INSTALL.get(profile.kind)
    how = f"; install it with: {hint}" if hint else ""
    raise RuntimeUnavailable(f"agent profile {profile.name!r} runs {program!r}, which is not "
                             f"installed or not on PATH{how}")
