"""The Docker runtime: one hardened container per task attempt, on a pool of daemons.

Every container is named and labelled after its task attempt and the agentdeck data
dir it belongs to; containers without our labels are never touched. The task's tree is
copied in and out (no bind mounts), so an endpoint may be a remote daemon.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
import weakref
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import docker.errors
from docker.types import LogConfig

from agentdeck.engine.config import paths
from agentdeck.engine.egress.allowlist import egress_allowlist
from agentdeck.engine.runtimes.docker.egress_gate import EgressGate
from agentdeck.engine.runtimes.docker.egress_network import EgressNetwork
from agentdeck.engine.egress.proxy import EventCallback
from agentdeck.engine.errors import RuntimeUnavailable
from agentdeck.engine.runtimes.docker.images import AGENT_IMAGE
from agentdeck.engine.runtimes.base import (Collected, LaunchSpec, Runtime, Sandbox, Sink,
                                            TreeSource)
from agentdeck.engine.runtimes.docker.baselayer import (BaseImage, BaseLayers, list_base_images,
                                                        remove_base_image)
from agentdeck.engine.runtimes.docker.collect import kept_removed, removing_argv
from agentdeck.engine.runtimes.docker.listing import listing_argv
from agentdeck.engine.runtimes.docker.archive import SANDBOX_UID, CollectLimits
from agentdeck.engine.runtimes.docker.cursor import LogCursor
from agentdeck.engine.runtimes.docker.disk import storage_opt_refused
from agentdeck.engine.runtimes.docker.endpoints import (Endpoint, default_endpoint, describe,
                                                        parse_endpoint)
from agentdeck.engine.runtimes.docker.pacer import OutputPacer
from agentdeck.engine.runtimes.docker.pool import UNREACHABLE, EndpointPool, labels_match
from agentdeck.engine.runtimes.docker.reconnect import RECONNECT_POLL, RECONNECT_WITHIN
from agentdeck.engine.runtimes.docker.sandbox import WORKDIR, DockerSandbox, LostSandbox, copy_in

log = logging.getLogger(__name__)

__all__ = ["DockerRuntime", "Endpoint", "CollectLimits", "OurContainer", "container_options",
           "parse_endpoint"]

BUILD_HINT = "build it with 'agentdeck image build --offline'"
#: Docker's own log file per container is rotated at this size (4 files kept), so an
#: agent printing without end cannot fill the daemon's disk.
LOG_FILE_SIZE = "50m"


@dataclass(frozen=True)
class OurContainer:
    """A container agentdeck made for this data dir, as found on an endpoint."""

    endpoint: str
    ref: str
    name: str
    task_id: str
    attempt: int
    status: str


#: The upstream DNS server of egress-limited containers: TEST-NET-1, never routed. Docker's
#: embedded resolver forwards outside names from the host's namespace when the host's
#: resolver is a loopback address (systemd-resolved's 127.0.0.53): seen on 20.10, a query
#: for any name left an internal network that way — a channel around the proxy. The proxy
#: resolves names on the host, so agents need no DNS of their own; names of containers
#: are still answered by the embedded resolver itself.
NOWHERE_DNS = "192.0.2.1"


def default_cpus(ncpu: int) -> int:
    """CPUs a container may use when its profile does not say: all but one, so a busy
    agent leaves the desktop (and the engine) a core; at least one."""
    return max(1, ncpu - 1)


def container_options(spec: LaunchSpec, name: str, labels: dict[str, str],
                      ncpu: int, egress: EgressNetwork | None = None,
                      layer_limit: bool = False,
                      log_file_size: str = LOG_FILE_SIZE) -> dict[str, Any]:
    """``containers.create`` arguments: non-root, no capabilities, limited, offline
    (or, with ``egress``, on the egress network with the proxy variables set).

    ``layer_limit``: the daemon can limit the writable layer to the profile's ``disk``
    (otherwise the sandbox watches it, see `agentdeck.engine.runtimes.docker.disk`).
    ``log_file_size``: where Docker rotates the container's own log file (4 kept).
    """
    profile = spec.profile
    cpus = min(profile.cpus, ncpu) if profile.cpus is not None else default_cpus(ncpu)
    network = egress.name if egress else "bridge" if profile.network else "none"
    # The proxy variables come last: a profile cannot route around the proxy.
    environment = {**spec.env, **(egress.environment() if egress else {})}
    dns = {"dns": [NOWHERE_DNS]} if egress else {}
    storage = {"storage_opt": {"size": profile.disk}} if layer_limit else {}
    return {**dns, **storage,
        "image": profile.image, "command": list(spec.argv), "name": name, "labels": labels,
        "working_dir": WORKDIR, "user": f"{SANDBOX_UID}:{SANDBOX_UID}",
        "environment": environment,
        "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"],
        # memswap == memory: no swap, so a memory hog is OOM-killed instead of crawling.
        "mem_limit": profile.memory, "memswap_limit": profile.memory,
        "nano_cpus": int(cpus * 1e9), "pids_limit": profile.pids,
        "network_mode": network,
        "init": True, "tty": False, "stdin_open": False, "detach": True,
        "log_config": LogConfig(type="json-file",
                                config={"max-size": log_file_size, "max-file": "4"}),
    }


def _stop(pacer: OutputPacer | None) -> None:
    if pacer is not None:
        pacer.close()


class DockerRuntime(Runtime):
    """Runs task attempts in containers on one or more Docker endpoints.

    Args:
        endpoints: the daemons to use; default: ``DOCKER_HOST`` or the local socket.
        home: the data dir whose containers are ours (label ``agentdeck.home``);
            default `agentdeck.engine.config.paths.data_dir`.
        image: the image `check` looks for (each task uses ``spec.profile.image``).
        limits: how much a container may hand back in `Sandbox.collect`.
        on_egress: ``on_egress(task_id, "host:port", allowed)`` for each connection a
            container of an egress-limited profile tries (see docs/egress.md).
        reconnect_within: seconds a sandbox (or an attach) waits for a daemon that stopped
            answering before its attempt is lost. Containers a cleanup could not remove
            meanwhile are removed once their daemon answers again.
        log_file_size: where Docker rotates a container's own log file (tests make it
            small to rotate it often).
    """

    name = "docker"
    starts_from_tree = True

    def __init__(self, endpoints: list[Endpoint] | None = None, *,
                 home: Path | str | None = None, image: str = AGENT_IMAGE,
                 limits: CollectLimits = CollectLimits(),
                 on_egress: EventCallback | None = None,
                 reconnect_within: float = RECONNECT_WITHIN,
                 log_file_size: str = LOG_FILE_SIZE) -> None:
        self._pool = EndpointPool(endpoints or [default_endpoint()])
        self._reconnect_within = reconnect_within
        #: Per endpoint: ids of containers to remove once its daemon answers again.
        self._unremoved: dict[str, set[str]] = {}
        self._sweeps: dict[str, asyncio.Task[None]] = {}
        self._home = str(home if home is not None else paths.data_dir())
        self._image = image
        self._limits = limits
        self._log_file_size = log_file_size
        self._sandboxes: weakref.WeakValueDictionary[str, DockerSandbox] = (
            weakref.WeakValueDictionary())
        self._ncpu: dict[str, int] = {}
        #: Per endpoint: False once its daemon refused to limit a writable layer.
        self._layer_limits: dict[str, bool] = {}
        self._egress = EgressGate(self._home, on_egress)
        self._layers = BaseLayers(self._home)

    async def warm(self, tree: TreeSource, image: str) -> None:
        """Build ``tree``'s base image on every endpoint that answers and lacks it (a
        batch was queued: its first tasks then start as fast as the later ones)."""
        for name in list(self._pool.endpoints):
            try:
                await asyncio.to_thread(
                    lambda: self._layers.ensure(self._pool.client(name), name, tree, image))
            except (docker.errors.APIError, RuntimeUnavailable, *UNREACHABLE) as exc:
                log.info("no base layer of %s on %s yet: %s", tree.commit[:12], name, exc)

    def free_slots(self) -> int | None:
        return self._pool.free_slots()

    async def set_endpoints(self, endpoints: list[Endpoint]) -> None:
        """Place new containers on ``endpoints`` from now on (running ones go on).

        Raises:
            InvalidInput: an endpoint to remove or repoint still runs tasks.
        """
        for name in await asyncio.to_thread(self._pool.reconfigure,
                                            endpoints or [default_endpoint()]):
            self._ncpu.pop(name, None)
            self._layer_limits.pop(name, None)

    async def start(self, spec: LaunchSpec, sink: Sink) -> Sandbox:
        """Create, fill and start the attempt's container where most slots are free.

        Raises:
            RuntimeUnavailable: no endpoint answers, or the image is missing.
        """
        error: RuntimeUnavailable | None = None
        for name in self._pool.ranked():
            try:
                egress = await self._open_egress(name, spec)
                container, pacer = await asyncio.to_thread(self._launch, name, spec, egress)
            except RuntimeUnavailable as exc:
                error = error or exc
                continue
            return self._follow(name, container, spec, sink, LogCursor(), pacer)
        assert error is not None
        raise error

    async def attach(self, spec: LaunchSpec, ref: str, cursor: str | None,
                     sink: Sink) -> Sandbox:
        name, _, container_id = ref.partition("/")
        if name not in self._pool.endpoints:
            return LostSandbox(ref, f"the Docker endpoint {name!r} is no longer configured")
        endpoint = self._pool.endpoints[name]
        try:
            container = await self._find(name, container_id)
        except docker.errors.NotFound:
            return LostSandbox(ref, f"the container {container_id[:12]} on {describe(endpoint)} "
                               "is gone")
        except (RuntimeUnavailable, *UNREACHABLE) as exc:
            return LostSandbox(
                ref, f"{describe(endpoint)} went away and did not come back within "
                f"{self._reconnect_within:g} s ({exc})",
                on_cleanup=lambda: self._leave(name, container_id))
        if not labels_match(container, self._home):
            return LostSandbox(ref, f"the container {container.name} is not one of ours")
        try:
            if await self._open_egress(name, spec):
                self._grant(container.id, spec)
        except RuntimeUnavailable as exc:
            return LostSandbox(ref, f"its egress proxy cannot run again: {exc}")
        return self._follow(name, container, spec, sink, LogCursor.decode(cursor))

    async def recollect(self, spec: LaunchSpec, ref: str, max_files: int | None,
                        max_bytes: int | None) -> Collected | None:
        """Collect again from the container kept when a collect was over a limit; on
        success the container is removed."""
        name, _, container_id = ref.partition("/")
        if name not in self._pool.endpoints:
            raise RuntimeUnavailable(f"the Docker endpoint {name!r} is no longer configured")
        if spec.tree is None:
            raise RuntimeUnavailable("only a task started from a base layer can be collected "
                                     "again; run it again")
        try:
            container = await asyncio.to_thread(
                lambda: self._pool.client(name).containers.get(container_id))
        except docker.errors.NotFound as exc:
            raise RuntimeUnavailable(f"the task's container {container_id[:12]} is gone; "
                                     "run the task again") from exc
        except UNREACHABLE as exc:
            raise RuntimeUnavailable(f"{describe(self._pool.endpoints[name])} does not "
                                     f"answer: {exc}") from exc
        if not labels_match(container, self._home):
            raise RuntimeUnavailable(f"the container {container.name} is not one of ours")
        limits = CollectLimits(max_bytes or self._limits.max_bytes,
                               max_files or self._limits.max_files)
        sandbox = DockerSandbox(self._pool, self._pool.endpoints[name], container, spec,
                                lambda *_: None, LogCursor(), limits, self._reconnect_within,
                                self._leave)
        collected = await asyncio.to_thread(sandbox.collect_changes, limits)
        await asyncio.to_thread(self._remove, name, container.id)  # its work is home now
        return collected

    async def _find(self, name: str, container_id: str) -> Any:
        """The container, its daemon waited for up to ``reconnect_within`` seconds.

        Raises:
            docker.errors.NotFound: the daemon answers, the container is gone.
            RuntimeUnavailable: (or an SDK error) the daemon did not answer in time.
        """
        deadline = time.monotonic() + self._reconnect_within
        while True:
            try:
                return await asyncio.to_thread(
                    lambda: self._pool.client(name).containers.get(container_id))
            except docker.errors.NotFound:
                raise
            except (RuntimeUnavailable, *UNREACHABLE):
                if time.monotonic() >= deadline:
                    raise
                await asyncio.to_thread(self._pool.mark_down, name)
                await asyncio.sleep(RECONNECT_POLL)

    async def _open_egress(self, name: str, spec: LaunchSpec) -> EgressNetwork | None:
        """The egress network (its proxy listening) if the profile is egress-limited."""
        if egress_allowlist(spec.profile) is None:
            return None
        return await self._egress.open(name, self._pool.endpoints[name].url,
                                       lambda: self._pool.client(name))

    def _grant(self, container_id: str, spec: LaunchSpec) -> None:
        allow = egress_allowlist(spec.profile)
        assert allow is not None
        self._egress.grant(container_id, spec.task_id, allow)

    def _follow(self, name: str, container: Any, spec: LaunchSpec, sink: Sink,
                cursor: LogCursor, pacer: OutputPacer | None = None) -> DockerSandbox:
        sandbox = DockerSandbox(self._pool, self._pool.endpoints[name], container, spec, sink,
                                cursor, self._limits, self._reconnect_within, self._leave,
                                pacer)
        self._sandboxes[sandbox.ref] = sandbox
        sandbox.begin()
        return sandbox

    # -- blocking helpers, run in threads ---------------------------------------------

    def _labels(self, spec: LaunchSpec) -> dict[str, str]:
        return {"agentdeck.task": spec.task_id, "agentdeck.attempt": str(spec.attempt),
                "agentdeck.home": self._home}

    def container_name(self, spec: LaunchSpec) -> str:
        """The container's name: data dir hash, task id and attempt (unique per daemon)."""
        home = hashlib.sha256(self._home.encode()).hexdigest()[:8]
        task = re.sub(r"[^a-zA-Z0-9_.-]", "-", spec.task_id)
        return f"agentdeck-{home}-{task}-{spec.attempt}"

    def _launch(self, name: str, spec: LaunchSpec,
                egress: EgressNetwork | None) -> tuple[Any, OutputPacer | None]:
        """The started container, and its output pacer when we started it (attached
        first, so that it paces the output from the first line)."""
        client = self._pool.client(name)
        endpoint = self._pool.endpoints[name]
        pacer = None
        try:
            removed = kept_removed(spec) if spec.tree is not None else []
            container = self._create(client, name, self._on_base(client, name, spec, removed),
                                     egress)
            if egress is not None:
                self._grant(container.id, spec)
            if container.status == "created":
                copy_in(container, spec, removed)
                pacer = OutputPacer.attach(container)
                container.start()
        except docker.errors.APIError as exc:  # it answered, and said no
            _stop(pacer)
            raise RuntimeUnavailable(
                f"{describe(endpoint)} refused to run {self.container_name(spec)}: "
                f"{exc.explanation or exc}") from exc
        except UNREACHABLE as exc:
            _stop(pacer)
            self._pool.mark_down(name)
            raise RuntimeUnavailable(f"{describe(endpoint)} went away: {exc}") from exc
        self._pool.mark_up(name)
        return container, pacer

    def _on_base(self, client: Any, name: str, spec: LaunchSpec,
                 removed: list[str]) -> LaunchSpec:
        """``spec`` to run on its tree's base image (built now if missing), removing a
        follow-up's removed paths before the agent starts and listing /work when it
        exits; as it is without a tree."""
        if spec.tree is None:
            return spec
        try:
            tag = self._layers.ensure(client, name, spec.tree, spec.profile.image)
        except docker.errors.ImageNotFound as exc:
            raise RuntimeUnavailable(
                f"the image {spec.profile.image} is missing on "
                f"{describe(self._pool.endpoints[name])}: {BUILD_HINT}") from exc
        argv = removing_argv(spec.argv) if removed else list(spec.argv)
        return replace(spec, argv=tuple(listing_argv(argv)),
                       profile=replace(spec.profile, image=tag))

    def _create(self, client: Any, name: str, spec: LaunchSpec,
                egress: EgressNetwork | None) -> Any:
        """A new container, or the one an earlier engine made for the same attempt."""
        container_name = self.container_name(spec)
        if name not in self._ncpu:
            self._ncpu[name] = int(client.info().get("NCPU") or 1)
        try:
            return self._create_limited(client, name, spec, egress)
        except docker.errors.ImageNotFound as exc:
            raise RuntimeUnavailable(
                f"the image {spec.profile.image} is missing on "
                f"{describe(self._pool.endpoints[name])}: {BUILD_HINT}") from exc
        except docker.errors.APIError as exc:
            if exc.status_code != 409:
                raise RuntimeUnavailable(f"Docker refused to create {container_name}: "
                                         f"{exc.explanation}") from exc
        existing = client.containers.get(container_name)
        if not labels_match(existing, self._home):
            raise RuntimeUnavailable(f"a container named {container_name} exists that "
                                     "agentdeck did not make; remove it or rename it")
        if existing.status != "created":
            return existing  # it already runs (or ran): follow it from the beginning
        existing.remove(force=True)  # never started: its copy-in may be incomplete
        return self._create_limited(client, name, spec, egress)

    def _create_limited(self, client: Any, name: str, spec: LaunchSpec,
                        egress: EgressNetwork | None) -> Any:
        """Create the container, its writable layer limited where the daemon can do it
        (found out by asking once per endpoint: a refusal names the option)."""
        def options(limited: bool) -> dict[str, Any]:
            return container_options(spec, self.container_name(spec), self._labels(spec),
                                     self._ncpu[name], egress, layer_limit=limited,
                                     log_file_size=self._log_file_size)

        if self._layer_limits.get(name, True):
            try:
                container = client.containers.create(**options(True))
            except docker.errors.APIError as exc:
                if exc.status_code == 409 or not storage_opt_refused(exc):
                    raise
                self._layer_limits[name] = False  # the sandbox watches the disk instead
            else:
                self._layer_limits[name] = True
                return container
        return client.containers.create(**options(False))

    # -- checks and recovery ----------------------------------------------------------

    async def check(self, image: str | None = None) -> None:
        """Raise `RuntimeUnavailable` unless some endpoint answers and has ``image``
        (default: the runtime's image)."""
        problems = await asyncio.to_thread(self._problems, image or self._image)
        if len(problems) == len(self._pool.endpoints):
            raise RuntimeUnavailable(" ".join(problems.values()))

    def _problems(self, image: str) -> dict[str, str]:
        problems: dict[str, str] = {}
        for name, endpoint in self._pool.endpoints.items():
            try:
                self._pool.client(name).images.get(image)
                self._pool.mark_up(name)
            except docker.errors.ImageNotFound:
                problems[name] = (f"The image {image} is missing on "
                                  f"{describe(endpoint)}: {BUILD_HINT}.")
            except RuntimeUnavailable as exc:
                problems[name] = str(exc)
            except UNREACHABLE as exc:
                self._pool.mark_down(name)
                problems[name] = f"{describe(endpoint)} does not answer: {exc}."
        return problems

    async def list_ours(self) -> list[OurContainer]:
        """Our containers (label and data dir match) on every endpoint that answers."""
        return await asyncio.to_thread(self._list_ours)

    def _list_ours(self) -> list[OurContainer]:
        found = []
        for name in self._pool.endpoints:
            try:
                # The plain list, not the SDK's (which inspects each container and fails
                # on one removed meanwhile).
                listed = self._pool.client(name).api.containers(
                    all=True, filters={"label": [f"agentdeck.home={self._home}"]})
            except (RuntimeUnavailable, *UNREACHABLE):
                continue
            for c in listed:
                labels = c.get("Labels") or {}
                if "agentdeck.task" in labels and labels.get("agentdeck.home") == self._home:
                    found.append(OurContainer(
                        name, f"{name}/{c['Id']}", (c.get("Names") or ["/?"])[0].lstrip("/"),
                        labels["agentdeck.task"], int(labels.get("agentdeck.attempt", 0)),
                        str(c.get("State", ""))))
        return found

    # -- containers left behind while a daemon was away ---------------------------------

    def _leave(self, name: str, container_id: str) -> None:
        """Remove this container once endpoint ``name`` answers again (on the loop)."""
        self._unremoved.setdefault(name, set()).add(container_id)
        if name not in self._sweeps:
            self._sweeps[name] = asyncio.ensure_future(self._sweep(name))

    async def _sweep(self, name: str) -> None:
        """Wait for endpoint ``name`` to answer, then remove what was left on it."""
        try:
            while self._unremoved.get(name) and name in self._pool.endpoints:
                if await asyncio.to_thread(self._pool.answers, name):
                    for container_id in list(self._unremoved[name]):
                        if await asyncio.to_thread(self._remove, name, container_id):
                            self._unremoved[name].discard(container_id)
                if self._unremoved.get(name):
                    await asyncio.sleep(RECONNECT_POLL)
        finally:
            self._sweeps.pop(name, None)
            self._unremoved.pop(name, None)

    def _remove(self, name: str, container_id: str) -> bool:
        """Remove a container (blocking); False if its daemon did not answer."""
        try:
            self._pool.client(name).api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass
        except (RuntimeUnavailable, *UNREACHABLE) as exc:
            log.debug("could not remove %s on %s: %s", container_id[:12], name, exc)
            return False
        return True

    async def base_images(self) -> list[BaseImage]:
        """This data dir's base images on every endpoint that answers (one that does not
        is left out: its images are listed again when it is back)."""
        found: list[BaseImage] = []
        for name in list(self._pool.endpoints):
            try:
                client = await asyncio.to_thread(self._pool.client, name)
                found += await asyncio.to_thread(list_base_images, client, self._home)
            except (RuntimeUnavailable, docker.errors.DockerException, *UNREACHABLE) as exc:
                log.debug("could not list the base images on %s: %s", name, exc)
        return found

    async def remove_base_images(self, tags: set[str]) -> list[str]:
        """Remove the base images ``tags`` from every endpoint; returns those gone from all
        (one a container still uses stays)."""
        kept: set[str] = set()
        for name in list(self._pool.endpoints):
            for tag in sorted(tags):
                try:
                    client = await asyncio.to_thread(self._pool.client, name)
                    if not await asyncio.to_thread(remove_base_image, client, tag):
                        kept.add(tag)
                except (RuntimeUnavailable, docker.errors.DockerException, *UNREACHABLE) as exc:
                    log.debug("could not remove %s on %s: %s", tag, name, exc)
                    kept.add(tag)
        return sorted(tags - kept)

    async def remove_kept(self, sandbox_ref: str) -> bool:
        """Remove the container a task kept (over a collect limit); False if its daemon
        did not answer."""
        name, _, container_id = sandbox_ref.partition("/")
        if name not in self._pool.endpoints or not container_id:
            return True
        return await asyncio.to_thread(self._remove, name, container_id)

    async def remove_orphans(self, known_task_ids: set[str] | list[str]) -> list[str]:
        """Remove our containers whose task is unknown; return their names."""
        known = set(known_task_ids)
        orphans = [c for c in await self.list_ours() if c.task_id not in known]
        removed = []
        for orphan in orphans:
            client = await asyncio.to_thread(self._pool.client, orphan.endpoint)
            try:
                await asyncio.to_thread(client.api.remove_container, orphan.ref.split("/")[1],
                                        force=True)
            except docker.errors.NotFound:
                continue
            removed.append(orphan.name)
        return removed

    async def close(self) -> None:
        """Stop following all containers (they keep running), stop the egress proxy and
        close the clients."""
        for sandbox in list(self._sandboxes.values()):
            sandbox.detach()
        self._sandboxes.clear()
        for sweep in list(self._sweeps.values()):
            sweep.cancel()
        await asyncio.gather(*self._sweeps.values(), return_exceptions=True)
        await self._egress.close()
        await asyncio.to_thread(self._pool.close)
