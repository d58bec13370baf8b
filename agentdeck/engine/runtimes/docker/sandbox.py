"""One task attempt's container: its exit, its output, its files.

Two daemon threads per container, each blocked in one Docker call: the follow stream of
its output (`LogFollower`) and ``wait``; a third checks its disk use where the daemon
cannot limit the writable layer (`DiskWatch`). Nothing blocks the loop. When the daemon
stops answering, both wait for it to come back (`Reconnect`) and go on where they were.
"""
from __future__ import annotations

import asyncio
import logging
import math
import os
import posixpath
import tempfile
import threading
import time
from pathlib import Path
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import docker.errors
import requests
import urllib3.exceptions

from agentdeck.engine.errors import AgentdeckError, RuntimeUnavailable
from agentdeck.engine.models import LostOutput, Stream
from agentdeck.engine.runtimes.base import Collected, LaunchSpec, Outcome, Sandbox, Sink
from agentdeck.engine.runtimes.docker.collect import collect_changes, tmp_tar
from agentdeck.engine.runtimes.docker.archive import CollectLimits, extract_capped, pack_tree
from agentdeck.engine.runtimes.docker.cursor import LogCursor
from agentdeck.engine.runtimes.docker.disk import DiskWatch, has_layer_limit, limit_bytes
from agentdeck.engine.runtimes.docker.logs import LogFollower
from agentdeck.engine.runtimes.docker.pacer import OutputPacer
from agentdeck.engine.runtimes.docker.endpoints import Endpoint, describe
from agentdeck.engine.runtimes.docker.pool import UNREACHABLE, EndpointPool
from agentdeck.engine.runtimes.docker.reconnect import Reconnect

#: ``on_unremoved(endpoint name, container id)``: a cleanup could not remove a container
#: because its daemon did not answer (the runtime removes it once it answers again).
Unremoved = Callable[[str, str], None]

log = logging.getLogger(__name__)

#: Where the task's tree lives inside the container.
WORKDIR = "/work"
#: The sandbox user's home: agent CLIs keep their sessions there (resumed by follow-ups).
AGENT_HOME = "/home/agent"
#: What an agent's home may hold to be kept for the next attempt.
HOME_LIMITS = CollectLimits(max_bytes=256 << 20, max_files=20_000)
#: Seconds one ``wait`` request may block before it is renewed (so `close` is heard).
_WAIT_POLL = 5
#: Looks at a SIGKILLed container's OOM flag, 0.1 s apart (see `_oom_killed`).
_OOM_CHECKS = 10


def copy_in(container: Any, spec: LaunchSpec, removed: Sequence[str] = ()) -> None:
    """Copy ``spec.workdir`` (with its ``.git``) into the container's /work, and the
    agent's home of the previous attempt (``spec.state_dir``) into its home.

    With ``spec.tree`` the container already holds the base tree: the folder holds only
    what goes on top (a follow-up's changes so far, local files), its ``.git`` stays out,
    and ``removed`` is the list of base paths the container removes before the agent runs;
    the listing's stamp goes in first.
    """
    spool = spec.run_dir if spec.run_dir is not None and spec.run_dir.is_dir() else None
    if spec.tree is not None:
        container.put_archive("/tmp", tmp_tar(list(removed)))
        if set(os.listdir(spec.workdir)) - {".git"}:
            _put_tree(container, spec.workdir, WORKDIR, spool, skip=(".git",))
        trees = []
    else:
        trees = [(spec.workdir, WORKDIR)]
    if spec.state_dir is not None and spec.state_dir.is_dir() and any(spec.state_dir.iterdir()):
        trees.append((spec.state_dir, AGENT_HOME))  # (an empty one would cost a copy)
    for source, target in trees:
        _put_tree(container, source, target, spool)


def _put_tree(container: Any, source: Path, target: str, spool: Path | None,
              skip: tuple[str, ...] = ()) -> None:
    with tempfile.TemporaryFile(dir=spool) as tar:
        pack_tree(source, tar, skip)
        tar.seek(0)
        container.put_archive(target, tar)


class LostSandbox(Sandbox):
    """A sandbox that could not be found again: `wait` says why, nothing else to do."""

    def __init__(self, ref: str, reason: str,
                 on_cleanup: Callable[[], None] | None = None) -> None:
        self.ref = ref
        self._reason = reason
        self._on_cleanup = on_cleanup  # its container may still exist: have it removed

    async def wait(self) -> Outcome:
        return Outcome(exit_code=None, reason=self._reason, lost=True)

    async def stop(self, grace: float = 10.0) -> None:
        return None

    async def collect(self) -> None:
        raise RuntimeUnavailable(f"cannot copy the task's files back: {self._reason}")

    async def cleanup(self, keep: bool = False) -> None:
        if not keep and self._on_cleanup is not None:
            self._on_cleanup()


class DockerSandbox(Sandbox):
    """A task container; output flows to ``sink`` from ``cursor`` on once `begin` ran.

    Args:
        reconnect_within: seconds to wait for a daemon that stopped answering before the
            attempt is reported lost.
        on_unremoved: told of a container `cleanup` could not remove.
        pacer: the output pacer attached before the container started, if any.
    """

    def __init__(self, pool: EndpointPool, endpoint: Endpoint, container: Any,
                 spec: LaunchSpec, sink: Sink, cursor: LogCursor,
                 limits: CollectLimits, reconnect_within: float,
                 on_unremoved: Unremoved, pacer: OutputPacer | None = None) -> None:
        self.ref = f"{endpoint.name}/{container.id}"
        self._pool, self._endpoint = pool, endpoint
        self._reconnect = Reconnect(pool, endpoint, container, reconnect_within)
        self._spec, self._sink, self._limits = spec, sink, limits
        self._on_unremoved = on_unremoved
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._follower = LogFollower(self._reconnect, cursor, self._on_lines, loop, pacer)
        self._exit: asyncio.Future[Outcome] = loop.create_future()
        self._closed = threading.Event()
        self._waiter = threading.Thread(target=self._wait_for_exit, daemon=True,
                                        name=f"agentdeck-wait-{container.short_id}")
        self._over_disk: str | None = None  # why the disk watch stopped it
        self._disk_watch = None if has_layer_limit(container) else DiskWatch(
            container, limit_bytes(spec.profile.disk), spec.profile.disk, self._stopped_for)

    @property
    def container(self) -> Any:
        """The SDK container (the built-in agent's tools act in it)."""
        return self._reconnect.current

    @property
    def _container(self) -> Any:
        return self._reconnect.current

    def begin(self) -> None:
        """Start following output and waiting for the exit; takes an endpoint slot."""
        self._pool.take(self._endpoint.name, self.ref)
        self._follower.start()
        self._waiter.start()
        if self._disk_watch is not None:
            self._disk_watch.start()

    def _stopped_for(self, reason: str) -> None:
        self._over_disk = reason  # set before the kill: the waiter sees it with the exit

    def _on_lines(self, stream: Stream, lines: list[str], cursor: LogCursor,
                  lost: LostOutput | None) -> None:
        self._sink(stream, lines, cursor.encode(), lost)

    async def wait(self) -> Outcome:
        outcome = await asyncio.shield(self._exit)
        await asyncio.shield(self._follower.done)
        self._pool.release(self._endpoint.name, self.ref)
        broken = self._follower.error
        if broken and outcome.reason is None:
            return Outcome(outcome.exit_code, reason=broken, lost=outcome.lost)
        return outcome

    async def stop(self, grace: float = 10.0) -> None:
        """Stop the container; one whose daemon does not answer is given up at once (the
        attempt ends lost; `cleanup` has it removed when the daemon is back)."""
        try:
            await asyncio.to_thread(self._container.stop, timeout=math.ceil(grace))
        except docker.errors.NotFound:
            pass  # already gone: nothing left to stop
        except UNREACHABLE as exc:
            self._reconnect.quit(f"stopped while {describe(self._endpoint)} did not answer "
                                 f"({exc})")

    async def collect(self) -> Collected | None:
        collected = None
        if self._spec.tree is None:
            await asyncio.to_thread(self._collect, WORKDIR, self._spec.workdir, self._limits)
        else:
            collected = await asyncio.to_thread(self.collect_changes, self._limits)
        if self._spec.state_dir is not None:
            try:
                await asyncio.to_thread(self._collect, AGENT_HOME, self._spec.state_dir,
                                        HOME_LIMITS)
            except AgentdeckError as exc:  # the diff is what counts; a resume may fail
                log.warning("the agent's home in %s is not kept for follow-ups: %s",
                            self._container.name, exc)
        return collected

    def collect_changes(self, limits: CollectLimits) -> Collected:
        """Only the changed files (the container started from a base layer); blocking."""
        with self._copying_back():
            return collect_changes(self._container, self._spec, limits, self._spec.task_id)

    @contextmanager
    def _copying_back(self) -> Iterator[None]:
        """Say why the files cannot be copied back: the container is gone, or its daemon
        does not answer."""
        try:
            yield
        except docker.errors.NotFound as exc:
            raise RuntimeUnavailable(
                f"the container {self._container.name} is gone; its files cannot be copied back"
            ) from exc
        except UNREACHABLE as exc:
            raise RuntimeUnavailable(
                f"cannot copy the task's files back: {describe(self._endpoint)} does not "
                f"answer ({exc})") from exc

    def _collect(self, source: str, dest: Path, limits: CollectLimits) -> None:
        with self._copying_back():
            chunks, _ = self._container.get_archive(source)
        try:
            extract_capped(chunks, dest, top=posixpath.basename(source), limits=limits)
        finally:
            chunks.close()  # stop the daemon sending the rest of a refused tree

    async def cleanup(self, keep: bool = False) -> None:
        self.detach()
        self._pool.release(self._endpoint.name, self.ref)
        if keep:
            return
        try:
            await asyncio.to_thread(self._container.remove, force=True)
        except docker.errors.NotFound:
            pass
        except UNREACHABLE as exc:
            log.warning("could not remove %s now: %s", self._container.name, exc)
            self._on_unremoved(self._endpoint.name, self._container.id)

    def detach(self) -> None:
        """Stop following (the container keeps running); a later attach resumes."""
        self._closed.set()
        self._reconnect.quit()
        self._follower.close()
        if self._disk_watch is not None:
            self._disk_watch.stop()

    # -- waiter thread -----------------------------------------------------------------

    def _wait_for_exit(self) -> None:
        try:
            outcome = self._exit_outcome()
        except Exception as exc:  # a bug or an SDK surprise: still end the wait, say why
            log.exception("waiting for %s failed", self._container.name)
            outcome = Outcome(None, reason=f"waiting for the container failed: {exc}", lost=True)
        if outcome is None:  # detached
            return
        if self._disk_watch is not None:
            self._disk_watch.stop()
        self._follower.container_exited()
        try:
            self._loop.call_soon_threadsafe(self._set_exit, outcome)
        except RuntimeError:
            pass  # the loop is gone: nobody waits any more

    def _set_exit(self, outcome: Outcome) -> None:
        if not self._exit.done():
            self._exit.set_result(outcome)

    def _exit_outcome(self) -> Outcome | None:
        gone = f"{describe(self._endpoint)} went away"
        code = self._exit_code()
        if not isinstance(code, int):
            return code
        if self._over_disk is not None:
            return Outcome(code, reason=self._over_disk)
        try:
            oom = self._oom_killed(code)
        except (docker.errors.NotFound, *UNREACHABLE) as exc:
            return Outcome(code, reason=f"{gone} ({exc})")
        if oom:
            return Outcome(code, oom_killed=True, reason=(
                f"out of memory: the container hit its {self._spec.profile.memory} limit"))
        return Outcome(code)

    def _oom_killed(self, code: int) -> bool:
        """Whether the kernel's OOM killer ended the container.

        The daemon learns of the OOM kill from its own event, which can arrive after the
        exit (seen under load: exit 137, OOMKilled still false), so a SIGKILL exit is
        looked at again for a moment before it is taken as a plain kill.
        """
        for _ in range(_OOM_CHECKS if code == 137 else 1):
            self._container.reload()
            if self._container.attrs["State"].get("OOMKilled"):
                return True
            if code == 137:
                time.sleep(0.1)
        return False

    def _exit_code(self) -> int | Outcome | None:
        """The container's exit code, across daemon outages; an Outcome if it was lost,
        None once detached."""
        removed = Outcome(None, reason=f"the container {self._container.name} was removed",
                          lost=True)
        while True:
            container = self._container
            try:
                return self._wait_code(container)
            except docker.errors.NotFound:
                return removed
            except UNREACHABLE as exc:
                try:
                    if self._reconnect.after(container) is None:
                        return None if self._closed.is_set() else Outcome(
                            None, reason=f"{self._reconnect.gone} ({exc})", lost=True)
                except docker.errors.NotFound:
                    return removed

    def _wait_code(self, container: Any) -> int | None:
        while not self._closed.is_set():
            try:
                return int(container.wait(timeout=_WAIT_POLL)["StatusCode"])
            except requests.exceptions.RequestException as exc:
                if not _is_read_timeout(exc):
                    raise
        return None


def _is_read_timeout(exc: requests.exceptions.RequestException) -> bool:
    """True when a request only outlived its timeout (over a unix socket the SDK raises
    ConnectionError wrapping urllib3's ReadTimeoutError, not requests' ReadTimeout)."""
    return isinstance(exc, requests.exceptions.ReadTimeout) or bool(
        exc.args and isinstance(exc.args[0], urllib3.exceptions.ReadTimeoutError))
