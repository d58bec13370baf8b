"""agentdeck's own coding agent: an LLM tool loop that runs in the engine.

The loop asks the model for a turn, logs what it says, runs the tools it calls through
a `ToolHost` (the task's sandbox), sends the results back, and repeats until the model
calls ``finish`` (or answers without calling a tool), or a step, token or cost budget
runs out. Everything it does is reported through ``emit`` as log entries.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from agentdeck.engine.agents.builtin.host import ToolError, ToolHost
from agentdeck.engine.agents.builtin.tools import TOOL_SPECS, Toolbox, call_entry
from agentdeck.engine.llm.errors import LLMError
from agentdeck.engine.llm.retry import RetryNotice
from agentdeck.engine.llm.types import ChatClient, LLMResponse, Message
from agentdeck.engine.models import EntryKind, ParsedEntry
from agentdeck.engine.config.pricing import cost_usd

log = logging.getLogger(__name__)

INSTRUCTION_FILES = ("AGENTS.md", "CLAUDE.md")
INSTRUCTION_CHARS = 20_000
CONTINUE = "Your reply was cut off by the output limit. Continue where you stopped."
SYSTEM_PROMPT = """\
You are a careful software engineer working on a task in a git repository. Every tool
works in the repository root; give paths relative to it. Look before you change: list,
search and read the relevant files, make focused edits with edit_file (or write_file for
new files), and run the project's tests or checks with run when there are any. Commands
are not interactive. When the task is done, call finish with a short summary of what you
changed and how you checked it."""

Emit = Callable[[ParsedEntry], None]


@dataclass(frozen=True)
class BuiltinOutcome:
    """How a run ended.

    ``reason``: ``finished`` (the model called finish), ``answered`` (it replied without
    calling a tool), ``max_steps``, ``token_budget`` or ``cost_budget``.
    """

    finished: bool
    reason: str
    steps: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    summary: str = ""


class _Run:
    """The state of one run: conversation, counters, budgets."""

    def __init__(self, model: str, emit: Emit, max_tokens_total: int,
                 budget_usd: float | None) -> None:
        self.model, self.emit = model, emit
        self.max_tokens_total, self.budget_usd = max_tokens_total, budget_usd
        self.steps = self.input_tokens = self.output_tokens = 0
        self.cost = 0.0

    def count(self, response: LLMResponse) -> None:
        usage = response.usage
        step_cost = cost_usd(self.model, usage.input_tokens, usage.output_tokens)
        self.steps += 1
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cost += step_cost
        self.emit(ParsedEntry(
            EntryKind.USAGE, f"step {self.steps}: {usage.input_tokens} in / "
            f"{usage.output_tokens} out tokens, ${step_cost:.4f}",
            {"usage": {"input_tokens": usage.input_tokens,
                       "output_tokens": usage.output_tokens, "cost_usd": step_cost}}))

    def over_budget(self) -> str | None:
        """The budget that ran out, if any, after announcing it in the log."""
        if self.input_tokens + self.output_tokens >= self.max_tokens_total:
            reason, text = "token_budget", f"token budget of {self.max_tokens_total} used up"
        elif self.budget_usd is not None and self.cost >= self.budget_usd:
            reason, text = "cost_budget", f"cost budget of ${self.budget_usd:.2f} used up"
        else:
            return None
        self.emit(ParsedEntry(EntryKind.SYSTEM, f"stopped: {text}", {"reason": reason}))
        return reason

    def outcome(self, finished: bool, reason: str, summary: str = "") -> BuiltinOutcome:
        return BuiltinOutcome(finished, reason, self.steps, self.input_tokens,
                              self.output_tokens, self.cost, summary)


async def run_builtin(prompt: str, *, client: ChatClient, model: str, tools: ToolHost,
                      emit: Emit, max_steps: int = 40, max_tokens_total: int = 2_000_000,
                      budget_usd: float | None = None, system_extra: str = "",
                      max_tokens: int = 8192, run_timeout: float = 120.0) -> BuiltinOutcome:
    """Work on ``prompt`` until done or out of budget.

    Args:
        prompt: the task (or follow-up) text.
        client: the LLM API client; model: the model name sent to it (and priced).
        tools: where tools act (the task's working copy or container).
        emit: receives every log entry (MESSAGE, TOOL_CALL, TOOL_RESULT, COMMAND,
            FILE_EDIT, USAGE per step with this step's usage, SYSTEM (also one per
            retried LLM request), ERROR).
        max_steps: model turns at most. max_tokens_total: input+output tokens at most.
        budget_usd: stop once this much has been spent (None: no limit).
        system_extra: appended to the system prompt.
        max_tokens: output limit per model turn. run_timeout: default seconds of `run`.

    Raises:
        LLMError: the LLM API failed for good (after retries); an ERROR entry says so
            first. `RateLimited` carries the wait the provider asked for.
    """
    run = _Run(model, emit, max_tokens_total, budget_usd)
    toolbox = Toolbox(tools, run_timeout=run_timeout)
    messages = [Message.system(await system_prompt(tools, system_extra)), Message.user(prompt)]
    while run.steps < max_steps:
        try:
            # Only a whole reply is logged and acted on: a retried attempt leaves nothing.
            response = await client.complete(messages, TOOL_SPECS, model=model,
                                              max_tokens=max_tokens,
                                              on_retry=lambda n: emit(retry_entry(n)))
        except LLMError as exc:
            emit(ParsedEntry(EntryKind.ERROR, str(exc), {"error": type(exc).__name__,
                                                         "status": exc.status}))
            raise
        run.count(response)
        if response.text.strip():
            emit(ParsedEntry(EntryKind.MESSAGE, response.text))
        messages.append(Message.assistant(response.text, response.tool_calls))
        if not response.tool_calls and response.stop_reason != "max_tokens":
            return run.outcome(True, "answered", response.text)
        summary = await _run_tools(toolbox, response, messages, emit)
        if summary is not None:
            return run.outcome(True, "finished", summary)
        reason = run.over_budget()
        if reason:
            return run.outcome(False, reason)
    emit(ParsedEntry(EntryKind.SYSTEM, f"stopped: step limit of {max_steps} reached",
                     {"reason": "max_steps"}))
    return run.outcome(False, "max_steps")


def retry_entry(notice: RetryNotice) -> ParsedEntry:
    """The log entry saying that an LLM request failed and is tried again, and when.

    Its data has no free text: the reason is in the text, which the task log masks.
    """
    return ParsedEntry(EntryKind.SYSTEM, str(notice), {"llm_retry": {
        "status": notice.status, "delay": notice.delay, "attempt": notice.attempt,
        "attempts": notice.attempts}})


async def _run_tools(toolbox: Toolbox, response: LLMResponse, messages: list[Message],
                     emit: Emit) -> str | None:
    """Run every call of one turn, answer each in ``messages``; the finish summary if any."""
    if not response.tool_calls:
        messages.append(Message.user(CONTINUE))
        return None
    summary = None
    for call in response.tool_calls:
        emit(call_entry(call))
        result = await toolbox.dispatch(call)
        for entry in result.entries:
            emit(entry)
        messages.append(Message.tool_result(call.id, result.text, result.is_error))
        summary = result.summary if result.summary is not None else summary
    return summary


async def system_prompt(tools: ToolHost, extra: str = "") -> str:
    """The system prompt: our instructions, the repo's AGENTS.md / CLAUDE.md, ``extra``."""
    parts = [SYSTEM_PROMPT]
    for name in INSTRUCTION_FILES:
        try:
            text = (await tools.read(name)).decode("utf-8", "replace")
        except ToolError:
            continue
        if len(text) > INSTRUCTION_CHARS:
            text = text[:INSTRUCTION_CHARS] + "\n[... shortened ...]"
        parts.append(f"Instructions from the repository's {name}:\n\n{text.strip()}")
    if extra.strip():
        parts.append(extra.strip())
    return "\n\n".join(parts)
