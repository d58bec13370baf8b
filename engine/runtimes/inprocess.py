"""The built-in agent as a sandbox: its loop runs in the engine, its tools in the working copy.

`run_builtin` talks to the LLM provider from the engine process (no egress from any
sandbox is needed) and acts through a `LocalToolHost` confined to the task's working copy.
Wrapping it as a `Sandbox` lets the runner treat it like any other agent: start, wait,
stop, diff. It cannot outlive the engine: after a restart the attempt is reported lost and
can be retried.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Protocol

from engine.agents.builtin import run_builtin
from engine.agents.builtin_host import LocalToolHost
from engine.errors import AgentdeckError
from engine.llm.errors import RateLimited
from engine.models import ParsedEntry
from engine.providers import get_provider, make_client
from engine.runtimes.base import LaunchSpec, Outcome, Runtime, Sandbox, Sink

log = logging.getLogger(__name__)

PauseProvider = Callable[[str, float], None]
DEFAULT_RATE_LIMIT_PAUSE = 60.0


class EntrySink(Protocol):
    def parsed(self, parsed: ParsedEntry) -> None:
        """Receive one structured entry produced in-process."""


class BuiltinSandbox(Sandbox):
    def __init__(self, task: asyncio.Task[Outcome]) -> None:
        self.ref = ""  # nothing to re-attach to after a restart
        self._task = task

    async def wait(self) -> Outcome:
        try:
            return await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if self._task.cancelled():
                return Outcome(exit_code=None, reason="stopped")
            raise

    async def stop(self, grace: float = 10.0) -> None:
        self._task.cancel()


class BuiltinRuntime(Runtime):
    """Runs profiles of kind ``builtin``; ``pause_provider`` is told about rate limits."""

    name = "builtin"

    def __init__(self, home: Any, pause_provider: PauseProvider) -> None:
        self.home = home
        self._pause = pause_provider

    async def start(self, spec: LaunchSpec, sink: Sink) -> BuiltinSandbox:
        profile = spec.profile
        if not profile.provider or not profile.model:
            raise AgentdeckError(f"agent profile {profile.name!r} needs provider and model")
        provider = get_provider(profile.provider, self.home)
        client = make_client(provider)
        entries: EntrySink = sink  # type: ignore[assignment]  # the engine's TaskLog
        task = asyncio.ensure_future(self._run(spec, client, provider.name, entries))
        return BuiltinSandbox(task)

    async def _run(self, spec: LaunchSpec, client: Any, provider: str,
                   entries: EntrySink) -> Outcome:
        opts = spec.profile.options
        try:
            outcome = await run_builtin(
                spec.argv[-1], client=client, model=spec.profile.model or "",
                tools=LocalToolHost(spec.workdir), emit=entries.parsed,
                max_steps=int(opts.get("max_steps", 40)),
                max_tokens_total=int(opts.get("max_tokens_total", 2_000_000)),
                budget_usd=opts.get("budget_usd"))
        except RateLimited as exc:
            wait = exc.retry_after or DEFAULT_RATE_LIMIT_PAUSE
            self._pause(provider, wait)
            return Outcome(exit_code=None, reason=str(exc), requeue_after=wait)
        except AgentdeckError as exc:
            return Outcome(exit_code=1, reason=str(exc))
        finally:
            await client.aclose()
        if outcome.finished:
            return Outcome(exit_code=0)
        return Outcome(exit_code=1, reason=f"the built-in agent stopped: {outcome.reason} "
                                           f"after {outcome.steps} steps")

    async def attach(self, spec: LaunchSpec, ref: str, cursor: str | None,
                     sink: Sink) -> BuiltinSandbox:
        lost = Outcome(exit_code=None, lost=True,
                       reason="the built-in agent was interrupted by an agentdeck restart; "
                              "retry the task")
        done: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        done.set_result(lost)
        return BuiltinSandbox(asyncio.ensure_future(_resolved(done)))


async def _resolved(future: asyncio.Future[Outcome]) -> Outcome:
    return await future
