"""Aider (``aider --message PROMPT ...``): plain text output read line by line.

Aider prints no structured events. We pick out what matters: ``Applied edit to PATH``
(a file edit), the ``Tokens: ... sent, ... received. Cost: $X message, $Y session.``
report (usage), an unanswered ``(Y)es/(N)o`` prompt (a question) and error lines.
Aider keeps its chat and input history in files at the top of the working copy, where
they would end up in the task's diff; unless the template names them, they go into the
working copy's disposable ``.git`` folder instead, which git never lists as a change.
Follow-ups add ``--restore-chat-history`` to read that chat back.
"""
from __future__ import annotations

import re

from agentdeck.engine.agents.base import AgentAdapter
from agentdeck.engine.agents.cli_args import (
    COMMON_OPTIONS, checked_options, command_line, is_follow_up, model_of,
)
from agentdeck.engine.agents.lines import entry, plain_line, raw, usage
from agentdeck.engine.models import EntryKind, ParsedEntry, Stream, Task

OPTIONS: dict[str, type | tuple[type, ...]] = {**COMMON_OPTIONS, "edit_format": str}

_PROMPT_OPTIONS = {"--message": "--message", "--msg": "--message", "-m": "--message"}
_APPLIED = re.compile(r"^Applied edit to (?P<path>.+?)\s*$")
_COUNT = r"(\d+(?:\.\d+)?k?)"
_TOKENS = re.compile(rf"^Tokens: {_COUNT} sent(?:, {_COUNT} cache write)?(?:, {_COUNT} cache hit)?"
                     rf", {_COUNT} received\.")
_COST = re.compile(r"Cost: \$(?P<message>\d+(?:\.\d+)?) message, "
                   r"\$(?P<session>\d+(?:\.\d+)?) session")
_ASKING = re.compile(r"\(Y\)es/\(N\)o.*\]:\s*$")
_ERROR = re.compile(r"^(Error\b|error:|Traceback|litellm\.|\w+(Error|Exception)\b|Unable to |"
                    r"The LLM did not conform|# \d+ SEARCH/REPLACE blocks? failed)")


class AiderAdapter(AgentAdapter):
    """Runs Aider for one message and reads its plain log."""

    kind = "aider"

    def argv(self, task: Task, prompt: str) -> list[str]:
        options = checked_options(self.profile, OPTIONS)
        cmd = command_line(self.profile, task, prompt, _PROMPT_OPTIONS)
        cmd.flag("--no-pretty")  # colour codes and boxes would hide the lines we look for
        cmd.default(".git/aider.chat.history.md", "--chat-history-file")
        cmd.default(".git/aider.input.history", "--input-history-file")
        if model := model_of(self.profile, options):
            cmd.set(model, "--model")
        if "edit_format" in options:
            cmd.set(options["edit_format"], "--edit-format")
        if is_follow_up(task, prompt):
            cmd.flag("--restore-chat-history")
        return cmd.final(list(options.get("extra_args", ())))

    def parse(self, stream: Stream, line: str) -> ParsedEntry:
        if match := _APPLIED.match(line):
            path = match["path"]
            return entry(EntryKind.FILE_EDIT, line, line, paths=[path])
        tokens, cost = _TOKENS.match(line), _COST.search(line)
        if tokens or cost:
            sent, received = (tokens[1], tokens[4]) if tokens else ("0", "0")
            spent = usage(_count(sent), _count(received), float(cost["message"]) if cost else 0.0)
            return entry(EntryKind.USAGE, line, line, usage=spent)
        if _ASKING.search(line):
            return entry(EntryKind.QUESTION, line, line, question=line.strip())
        if stream is Stream.STDERR:
            return plain_line(line)
        if _ERROR.match(line):
            return entry(EntryKind.ERROR, line, line)
        return raw(line)


def _count(text: str) -> int:
    """Aider's rounded token counts: ``950``, ``2.5k``, ``12k``."""
    if text.endswith("k"):
        return int(float(text[:-1]) * 1000)
    return int(float(text))
