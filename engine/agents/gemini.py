"""Gemini CLI (``gemini -p PROMPT``): plain text output read line by line.

Lines that read like errors become ERROR entries, the rest stay RAW. Follow-ups add
``--resume latest``: Gemini keeps its sessions per project directory, and each task
has its own working copy.
"""
from __future__ import annotations

from engine.agents.base import AgentAdapter
from engine.agents.cli_args import COMMON_OPTIONS, checked_options, command_line, is_follow_up, model_of
from engine.agents.lines import plain_line
from engine.models import ParsedEntry, Stream, Task

OPTIONS: dict[str, type | tuple[type, ...]] = {
    **COMMON_OPTIONS,
    "approval_mode": str,    # default | auto_edit | yolo | plan
}

_PROMPT_OPTIONS = {"-p": "--prompt", "--prompt": "--prompt"}


class GeminiAdapter(AgentAdapter):
    """Runs Gemini CLI headless and reads its plain log."""

    kind = "gemini"

    def argv(self, task: Task, prompt: str) -> list[str]:
        options = checked_options(self.profile, OPTIONS)
        cmd = command_line(self.profile, task, prompt, _PROMPT_OPTIONS)
        if model := model_of(self.profile, options):
            cmd.set(model, "-m", "--model")
        if "approval_mode" in options:
            cmd.set(options["approval_mode"], "--approval-mode")
        if is_follow_up(task, prompt):
            cmd.set("latest", "--resume", "-r")
        return cmd.final(list(options.get("extra_args", ())))

    def parse(self, stream: Stream, line: str) -> ParsedEntry:
        return plain_line(line)
