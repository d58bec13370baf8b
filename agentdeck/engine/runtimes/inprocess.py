"""The built-in agent as a sandbox: its loop runs in the engine, its tools in the sandbox.

`run_builtin` talks to the LLM provider from the engine process (no egress from any
sandbox is needed, the API key stays here) and acts through a `ToolHost`: on the local
runtime a `LocalToolHost` confined to the task's working copy; on Docker a
`DockerToolHost` in a container of the task (made like any agent's container, with a
command that only keeps it alive), whose tree is collected at the end like any other.
Wrapping it as a `Sandbox` lets the runner treat it like any other agent: start, wait,
stop, diff. The loop cannot outlive the engine: after a restart the attempt is reported
lost (its container's files are still collected) and can be retried.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any, Callable, Protocol

from agentdeck.engine.agents.builtin.loop import run_builtin
from agentdeck.engine.runtimes.docker.tool_host import DockerToolHost
from agentdeck.engine.agents.builtin.host import LocalToolHost, ToolHost
from agentdeck.engine.errors import AgentdeckError
from agentdeck.engine.llm.errors import RateLimited
from agentdeck.engine.models import ParsedEntry
from agentdeck.engine.config.providers import get_provider, make_client
from agentdeck.engine.runtimes.base import LaunchSpec, Outcome, Runtime, Sandbox, Sink
from agentdeck.engine.runtimes.local.bwrap import PrivateEntries, default_cache_file
from agentdeck.engine.runtimes.local.launch import tool_wrapper

log = logging.getLogger(__name__)

PauseProvider = Callable[[str, float], None]
DEFAULT_RATE_LIMIT_PAUSE = 60.0
#: The tool container's own command: it only has to stay up while tools run in it.
KEEPALIVE = ("sh", "-c", "while :; do sleep 3600; done")


class EntrySink(Protocol):
    def parsed(self, parsed: ParsedEntry) -> None:
        """Receive one structured entry produced in-process."""


class BuiltinSandbox(Sandbox):
    """The agent loop's task, and the container its tools act in (None: local)."""

    def __init__(self, task: asyncio.Task[Outcome], box: Sandbox | None = None) -> None:
        self.ref = box.ref if box is not None else ""
        self._task = task
        self._box = box

    async def wait(self) -> Outcome:
        try:
            return await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if self._task.cancelled():
                return Outcome(exit_code=None, reason="stopped")
            raise

    async def stop(self, grace: float = 10.0) -> None:
        self._task.cancel()

    async def collect(self) -> None:
        if self._box is not None:
            await self._box.collect()

    async def cleanup(self, keep: bool = False) -> None:
        if self._box is not None:
            await self._box.cleanup(keep=keep)


class BuiltinRuntime(Runtime):
    """Runs profiles of kind ``builtin``; ``pause_provider`` is told about rate limits.

    Args:
        tools: the Docker runtime whose container the tools act in; None: the local
            working copy.
    """

    name = "builtin"

    def __init__(self, home: Any, pause_provider: PauseProvider,
                 tools: Runtime | None = None) -> None:
        self.home = home
        self._pause = pause_provider
        self._tools = tools
        self._private: PrivateEntries | None = None
        self.shares_host_paths = tools is None  # the tools run in the local copy

    async def check(self, image: str | None = None) -> None:
        if self._tools is not None:
            await self._tools.check(image)

    def free_slots(self) -> int | None:
        return self._tools.free_slots() if self._tools is not None else None

    async def start(self, spec: LaunchSpec, sink: Sink) -> BuiltinSandbox:
        profile = spec.profile
        if not profile.provider or not profile.model:
            raise AgentdeckError(f"agent profile {profile.name!r} needs provider and model")
        provider, client = await asyncio.to_thread(self._client, profile.provider)
        box: Sandbox | None = None
        try:
            notes: tuple[str, ...] = ()
            if self._tools is None:
                prefix, note = await asyncio.to_thread(self._confinement, spec)
                host: ToolHost = LocalToolHost(spec.workdir, confine=prefix)
                notes = (note,)
            else:  # no secrets in the container: the loop holds the key
                box = await self._tools.start(replace(spec, argv=KEEPALIVE, env={}), sink)
                host = DockerToolHost(box.container)  # type: ignore[attr-defined]
        except BaseException:
            await client.aclose()
            raise
        entries: EntrySink = sink  # type: ignore[assignment]  # the engine's TaskLog
        task = asyncio.ensure_future(self._run(spec, client, provider.name, entries, host))
        sandbox = BuiltinSandbox(task, box)
        sandbox.notes = notes or (box.notes if box is not None else ())
        return sandbox

    def _client(self, name: str) -> tuple[Any, Any]:
        """The provider and its client (blocking: providers.toml, the keyring)."""
        provider = get_provider(name, self.home)
        return provider, make_client(provider)

    def _confinement(self, spec: LaunchSpec) -> tuple[list[str], str]:
        """The sandbox prefix of the tools' commands on this machine (blocking)."""
        if self._private is None:
            self._private = PrivateEntries(default_cache_file())
        run_dir = spec.run_dir or self.home / "runs" / spec.task_id / str(spec.attempt)
        run_dir.mkdir(parents=True, exist_ok=True)
        return tool_wrapper(spec, run_dir, self._private)

    async def _run(self, spec: LaunchSpec, client: Any, provider: str,
                   entries: EntrySink, host: ToolHost) -> Outcome:
        opts = spec.profile.options
        try:
            outcome = await run_builtin(
                spec.argv[-1], client=client, model=spec.profile.model or "",
                tools=host, emit=entries.parsed,
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
        """The attempt is lost; its container (if any) is found so its files come back."""
        lost = Outcome(exit_code=None, lost=True,
                       reason="the built-in agent was interrupted by an agentdeck restart; "
                              "retry the task")
        done: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        done.set_result(lost)
        box = None
        if ref and self._tools is not None:
            box = await self._tools.attach(replace(spec, argv=KEEPALIVE, env={}), ref,
                                           cursor, sink)
        return BuiltinSandbox(asyncio.ensure_future(_resolved(done)), box)


async def _resolved(future: asyncio.Future[Outcome]) -> Outcome:
    return await future
