"""Egress policy: the allowlisting proxy on its own, then containers on the egress network.

The container side uses busybox ``nc`` to speak HTTP to the proxy (busybox ``wget``
crashes in the static test image), reading the proxy address from ``HTTP_PROXY`` as an
agent CLI would.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from agentdeck.engine.egress.proxy import EgressProxy, Grant, parse_allow
from agentdeck.engine.runtimes.docker.hostguard import bridge_name
from agentdeck.engine.runtimes.docker.egress_network import HOME_LABEL, ensure_network, network_name, remove_network
from agentdeck.engine.errors import InvalidInput, RuntimeUnavailable
from agentdeck.engine.runtimes.docker.images import TEST_IMAGE
from agentdeck.engine.runtimes.docker.runtime import NOWHERE_DNS, DockerRuntime, Endpoint
from tests.fakes.llm_server import LLMServer
from tests.integration.conftest import Collector
from tests.integration.egresskit import ASK, Egress, Event, run_to_end



def test_allowlist_entries_are_normalised_and_bad_ones_refused() -> None:
    assert parse_allow(["API.anthropic.com:443", "api.openai.com", "http://127.0.0.1:8080/v1",
                        "https://example.org/x", "[::1]:9000"]) == {
        "api.anthropic.com:443", "api.openai.com:443", "127.0.0.1:8080",
        "example.org:443", "::1:9000"}
    for bad in ("", "host:http", "host:70000"):
        with pytest.raises(InvalidInput, match="egress entry"):
            parse_allow([bad])


async def _exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


async def test_host_proxy_forwards_allowed_targets_and_refuses_the_rest() -> None:
    events: list[Event] = []
    with LLMServer() as server:
        target = server.url.removeprefix("http://")
        grant = Grant("task-1", parse_allow([target]))

        async def identify(ip: str) -> Grant | None:
            return grant if ip == "127.0.0.1" else None

        proxy = EgressProxy(identify, lambda *event: events.append(event))
        await proxy.start("127.0.0.1")
        port = proxy.address[1]
        try:
            plain = await _exchange(port, f"GET {server.url}/v1/models HTTP/1.1\r\n"
                                          f"Host: {target}\r\nConnection: keep-alive\r\n\r\n"
                                    .encode())
            tunnel = await _exchange(port, f"CONNECT {target} HTTP/1.1\r\n\r\n"
                                           f"GET /v1/models HTTP/1.1\r\nHost: {target}\r\n"
                                           "Connection: close\r\n\r\n".encode())
            refused = await _exchange(port, b"CONNECT example.com:443 HTTP/1.1\r\n\r\n")
            garbage = await _exchange(port, b"GET /relative HTTP/1.1\r\n\r\n")
        finally:
            await proxy.close()
    assert plain.startswith(b"HTTP/1.1 200 OK") and b"agentdeck-fake" in plain
    assert tunnel.startswith(b"HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK")
    assert b"agentdeck-fake" in tunnel
    assert refused.startswith(b"HTTP/1.1 403") and b"example.com:443" in refused
    assert garbage.startswith(b"HTTP/1.1 400")
    assert events == [("task-1", target, True), ("task-1", target, True),
                      ("task-1", "example.com:443", False)]


# -- containers on the egress network ------------------------------------------------



@pytest.mark.docker
async def test_container_reaches_only_its_allowlist_through_the_proxy(
        egress: Egress, make_spec: Any, docker_client: Any) -> None:
    with LLMServer() as server:
        target = server.url.removeprefix("http://")
        fake_port = target.split(":")[1]
        script = ASK + (
            f"ask 'GET {server.url}/v1/models HTTP/1.1\\r\\nHost: {target}\\r\\n\\r\\n'\n"
            f"ask 'CONNECT {target} HTTP/1.1\\r\\n\\r\\nGET /v1/models HTTP/1.1\\r\\n"
            f"Host: {target}\\r\\nConnection: close\\r\\n\\r\\n'\n"
            "ask 'GET http://127.0.0.1:1/ HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'\n"
            "ask 'CONNECT example.com:443 HTTP/1.1\\r\\n\\r\\n'\n"
            "p=${HTTP_PROXY#http://}\n"
            f"nc -w 3 ${{p%:*}} {fake_port} </dev/null; echo direct=$?\n"
            "echo no_proxy=[$NO_PROXY]\n")
        spec = make_spec(script, network=True, options={"egress": [target]})
        spec = replace(spec, env={"HTTP_PROXY": "http://evil:1", "NO_PROXY": "*"})
        out = await run_to_end(egress.rt, spec)
        assert len(server.requests) == 2  # both allowed requests, nothing else
    assert out[0] == "HTTP/1.1 200 OK"
    assert out[1] == "HTTP/1.1 200 Connection established"
    assert out[2].startswith("HTTP/1.1 403") and out[3].startswith("HTTP/1.1 403")
    assert out[4] != "direct=0" and out[5] == "no_proxy=[]"
    assert egress.events == [
        (spec.task_id, target, True), (spec.task_id, target, True),
        (spec.task_id, "127.0.0.1:1", False), (spec.task_id, "example.com:443", False)]
    network = docker_client.networks.get(network_name(egress.home))
    assert network.attrs["Internal"] is True


@pytest.mark.docker
async def test_egress_network_forwards_nothing_to_other_containers(
        egress: Egress, make_spec: Any, docker_client: Any) -> None:
    listener = docker_client.containers.run(
        TEST_IMAGE, ["nc", "-ll", "-p", "8080", "-e", "echo", "hello"], detach=True,
        labels={"agentdeck.home": egress.home, "agentdeck.task": "listener"})
    listener.reload()
    address = listener.attrs["NetworkSettings"]["IPAddress"]
    probe = f"nc -w 3 {address} 8080 </dev/null; echo rc=$?"
    on_bridge = await run_to_end(egress.rt, make_spec(probe, network=True))
    on_egress = await run_to_end(egress.rt,
                           make_spec(probe, network=True, options={"egress": ["x.org:443"]}))
    offline = await run_to_end(egress.rt, make_spec(probe))
    assert on_bridge == ["hello", "rc=0"]  # the listener answers a bridged container
    assert on_egress[-1] != "rc=0" and "hello" not in on_egress
    assert offline[-1] != "rc=0"


@pytest.mark.docker
async def test_egress_needs_a_local_daemon_and_a_list(make_spec: Any, tmp_path: Path) -> None:
    rt = DockerRuntime([Endpoint("far", "tcp://127.0.0.1:1", 1)], home=tmp_path)
    try:
        with pytest.raises(RuntimeUnavailable, match="local Docker endpoint"):
            await rt.start(make_spec("true", network=True, options={"egress": ["a.b:443"]}),
                           Collector())
        with pytest.raises(InvalidInput, match="must be a list"):
            await rt.start(make_spec("true", network=True, options={"egress": "a.b:443"}),
                           Collector())
    finally:
        await rt.close()


@pytest.mark.docker
async def test_a_container_outliving_its_engine_finds_the_next_proxy(
        egress: Egress, make_spec: Any, docker_client: Any) -> None:
    with LLMServer() as server:
        target = server.url.removeprefix("http://")
        script = ASK + ("while [ ! -e /tmp/go ]; do sleep 0.1; done\n"
                        f"ask 'GET {server.url}/v1/models HTTP/1.1\\r\\n"
                        f"Host: {target}\\r\\n\\r\\n'\n")
        spec = make_spec(script, network=True, options={"egress": [target]})
        first = await egress.rt.start(spec, Collector())
        await egress.rt.close()  # the engine quits; the container keeps running
        events: list[Event] = []
        second = DockerRuntime([Endpoint("local", None, max_parallel=4)], home=egress.home,
                               image=TEST_IMAGE, on_egress=lambda *event: events.append(event))
        try:
            sink = Collector()
            sandbox = await second.attach(spec, first.ref, None, sink)
            container = docker_client.containers.get(first.ref.split("/")[1])
            await asyncio.to_thread(container.exec_run, ["touch", "/tmp/go"])
            outcome = await sandbox.wait()
            await sandbox.cleanup()
        finally:
            await second.close()
    assert outcome.exit_code == 0 and sink.out == ["HTTP/1.1 200 OK"]
    assert events == [(spec.task_id, target, True)]


# -- the network's life: removed when unused, pruned when its data dir is gone ----------

@pytest.mark.docker
async def test_closing_the_runtime_removes_an_unused_egress_network(
        egress: Egress, make_spec: Any, docker_client: Any) -> None:
    await run_to_end(egress.rt, make_spec("true", network=True, options={"egress": ["x.org:443"]}))
    bridge = bridge_name(docker_client.networks.get(network_name(egress.home)).attrs)
    assert bridge in _input_rules() or not _input_rules()  # guarded where iptables works
    await egress.rt.close()
    assert not docker_client.networks.list(names=[network_name(egress.home)])
    assert bridge not in _input_rules()  # its host rules went with it


def _input_rules() -> str:
    if shutil.which("iptables") is None or os.geteuid() != 0:
        return ""
    return subprocess.run(["iptables", "-w", "-S", "INPUT"], capture_output=True,
                          text=True).stdout


def _fill_address_pools(client: Any, gone: Path) -> list[str]:
    """Networks labelled with data dirs under ``gone`` until the daemon has no pool left."""
    made: list[str] = []
    for i in range(256):
        name = f"agentdeck-test-filler-{gone.name}-{i}"
        try:
            client.networks.create(name, internal=True, labels={HOME_LABEL: str(gone / str(i))})
        except docker.errors.APIError as exc:
            assert "address pool" in str(exc.explanation), exc
            return made
        made.append(name)
    raise AssertionError("the daemon never ran out of address pools")


@pytest.mark.docker
def test_networks_of_deleted_data_dirs_make_room_for_a_new_one(
        docker_client: Any, tmp_path: Path) -> None:
    kept_home = tmp_path / "kept"
    kept_home.mkdir()
    kept = docker_client.networks.create("agentdeck-test-kept", internal=True,
                                         labels={HOME_LABEL: str(kept_home)})
    fillers = _fill_address_pools(docker_client, tmp_path / "deleted")
    home = str(tmp_path / "home")
    try:
        network = ensure_network(docker_client, home)
        names = {n.name for n in docker_client.networks.list()}
        assert network.name in names and kept.name in names
        assert names.isdisjoint(fillers)
    finally:
        remove_network(docker_client, home)
        kept.remove()
        for name in fillers:
            for left in docker_client.networks.list(names=[name]):
                left.remove()


@pytest.mark.docker
async def test_egress_containers_ask_no_outside_dns_server(
        egress: Egress, make_spec: Any, docker_client: Any) -> None:
    """Docker 20.10 sends names asked on an internal network on to the host's resolver
    when that is a loopback address (docs/egress.md has the experiment); egress-limited
    containers get an upstream that is never routed, and still find their peers."""
    spec = make_spec("true", network=True, options={"egress": ["x.org:443"]})
    sandbox = await egress.rt.start(spec, Collector())
    config = docker_client.api.inspect_container(sandbox.ref.split("/")[1])["HostConfig"]
    await sandbox.wait()
    await sandbox.cleanup()
    assert config["Dns"] == [NOWHERE_DNS]
    peer = docker_client.containers.run(TEST_IMAGE, ["sleep", "30"], detach=True, name=(
        f"agentdeck-dns-peer-{spec.task_id}"), network=network_name(egress.home),
        labels={"agentdeck.home": egress.home, "agentdeck.task": "peer"})
    try:
        ask = await run_to_end(egress.rt, make_spec(
            f"nslookup {peer.name} | grep -c Address", network=True,
            options={"egress": ["x.org:443"]}))
    finally:
        peer.remove(force=True)
    assert int(ask[-1]) >= 2  # the resolver's own address, then the peer's
