"""Egress against a hostile agent: connection floods, the host's own services, neighbours.

Every attack leaves a trace when it works (a connection the proxy served past its cap,
bytes from a host service, a neighbour's answer) and each test also shows the attack
was made (the connections were open, the listener was listening and reachable by a
container that is allowed to reach it).
"""
from __future__ import annotations

import asyncio
import grp
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest

from agentdeck.engine.egress.proxy import EgressProxy, Grant
from agentdeck.engine.runtimes.docker.egress_network import (HOME_LABEL, ICC_OPTION, PORT_LABEL, ensure_network,
                                   network_name, remove_network)
from agentdeck.engine.runtimes.docker.images import TEST_IMAGE
from tests.fakes.llm_server import LLMServer
from tests.integration.conftest import ROOT, Collector
from tests.integration.egresskit import ASK, Egress, run_to_end

HOLDERS = 64  # the default per-task cap


async def test_a_flood_of_connections_gets_503_and_leaves_the_engine_its_descriptors() -> None:
    """Real clients on the host: a task holds its cap of 40 idle connections and opens
    600 more at once; every one of those gets 503, the refusal is reported once, and
    another task is still served."""
    events: list[tuple[Any, ...]] = []
    grants = {"127.0.0.1": Grant("flooder", frozenset()), "127.0.0.2": Grant("other",
                                                                               frozenset())}

    async def identify(ip: str) -> Grant | None:
        return grants.get(ip)

    proxy = EgressProxy(identify, lambda *event: events.append(event),
                        max_connections=1000, max_per_task=40)
    await proxy.start("0.0.0.0")
    port = proxy.address[1]
    held: list[asyncio.StreamWriter] = []
    try:
        for _ in range(40):  # the flooder's own cap, filled with idle sockets
            held.append((await asyncio.open_connection("127.0.0.1", port))[1])
        await asyncio.sleep(0.2)
        flood = await asyncio.gather(*(_status(port, "127.0.0.1") for _ in range(600)))
        other = await _status(port, "127.0.0.2")
    finally:
        for writer in held:
            writer.close()
        await proxy.close()
    assert set(flood) == {"HTTP/1.1 503 Service Unavailable"}  # none got past its cap
    assert other.startswith("HTTP/1.1 403")  # another task is still served
    refusals = [e for e in events if not e[2] and e[1] == ""]
    assert len(refusals) == 1 and refusals[0][0] == "flooder"
    assert "40 connections open" in refusals[0][3] and "more refused" not in refusals[0][3]


async def _status(port: int, source: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(b"CONNECT example.com:443 HTTP/1.1\r\n\r\n")
    try:
        return (await reader.readline()).decode().strip()
    finally:
        writer.close()


async def test_the_total_cap_refuses_before_identifying() -> None:
    asked: list[str] = []

    async def identify(ip: str) -> Grant | None:
        asked.append(ip)
        return Grant("t", frozenset())

    events: list[tuple[Any, ...]] = []
    proxy = EgressProxy(identify, lambda *event: events.append(event),
                        max_connections=3, max_per_task=10)
    await proxy.start("127.0.0.1")
    port = proxy.address[1]
    held = [(await asyncio.open_connection("127.0.0.1", port))[1] for _ in range(3)]
    await asyncio.sleep(0.2)
    try:
        answer = await _status(port, "127.0.0.1")
    finally:
        for writer in held:
            writer.close()
        await proxy.close()
    assert answer == "HTTP/1.1 503 Service Unavailable" and len(asked) == 3
    assert events[-1][:3] == ("", "", False) and "3 connections at once" in events[-1][3]


@pytest.mark.docker
async def test_a_container_past_its_connection_cap_gets_503_then_is_served_again(
        egress: Egress, make_spec: Any) -> None:
    """An agent holds the default 64 connections open through the proxy; its next one
    is refused with 503 (reported once, in words), and served again once it let go."""
    with LLMServer() as server:
        target = server.url.removeprefix("http://")
        script = ASK + (
            "p=${HTTP_PROXY#http://}; i=0\n"
            f"while [ $i -lt {HOLDERS} ]; do\n"
            "  sleep 60 | nc ${p%:*} ${p#*:} & held=\"$held $!\"; i=$((i+1)); done\n"
            "sleep 0.5; echo holders=$(netstat -tn | grep -c ESTABLISHED)\n"
            # Until the proxy counted them all (it asks Docker who each one is).
            "until_not() { i=0; while [ $i -lt 50 ]; do got=$(ask \"$2\")\n"
            "  case $got in *$1*) sleep 0.2; i=$((i+1));; *) break;; esac; done; }\n"
            "until_not 403 'CONNECT example.com:443 HTTP/1.1\\r\\n\\r\\n'; echo \"capped=$got\"\n"
            "kill $held\n"
            f"until_not 503 'GET {server.url}/v1/models HTTP/1.1\\r\\nHost: {target}\\r\\n\\r\\n'\n"
            "echo \"again=$got\"\n")
        spec = make_spec(script, network=True, options={"egress": [target]})
        out = await run_to_end(egress.rt, spec)
    assert out[0] == f"holders={HOLDERS}"  # the flood was really open
    assert out[1] == "capped=HTTP/1.1 503 Service Unavailable"
    assert out[2] == "again=HTTP/1.1 200 OK"  # the cap lets go with the connections
    caps = [e for e in egress.events if len(e) == 4]
    assert len(caps) == 1 and caps[0][0] == spec.task_id
    assert f"{HOLDERS} connections open through the proxy" in caps[0][3]


# -- neighbours on the egress network -------------------------------------------------

@pytest.mark.docker
async def test_egress_containers_cannot_reach_each_other_but_reach_the_proxy(
        egress: Egress, make_spec: Any, docker_client: Any) -> None:
    refuse = "ask 'CONNECT example.com:443 HTTP/1.1\\r\\n\\r\\n'\n"
    first = make_spec(ASK + "nc -ll -p 8080 -e echo NEIGHBOUR &\n" + refuse +
                      "while [ ! -e /tmp/done ]; do sleep 0.1; done\n",
                      network=True, options={"egress": ["x.org:443"]})
    sink = Collector()
    listener = await egress.rt.start(first, sink)
    try:
        container = docker_client.containers.get(listener.ref.split("/")[1])
        address = container.attrs["NetworkSettings"]["Networks"][
            network_name(egress.home)]["IPAddress"]
        for _ in range(100):  # until the listener got its proxy answer
            if sink.out:
                break
            await asyncio.sleep(0.1)
        own = await asyncio.to_thread(container.exec_run, ["nc", "-w", "3", "127.0.0.1", "8080"])
        second = await run_to_end(egress.rt, make_spec(
            ASK + f"nc -w 3 {address} 8080 </dev/null; echo rc=$?\n" + refuse,
            network=True, options={"egress": ["x.org:443"]}))
    finally:
        await asyncio.to_thread(docker_client.containers.get(listener.ref.split("/")[1])
                                .exec_run, ["touch", "/tmp/done"])
        await listener.wait()
        await listener.cleanup()
    assert b"NEIGHBOUR" in own.output  # the listener was listening
    assert sink.out[0].startswith("HTTP/1.1 403")  # both reach the proxy...
    assert second[-1].startswith("HTTP/1.1 403")
    assert "NEIGHBOUR" not in second and second[0] != "rc=0"  # ...but not each other
    options = docker_client.networks.get(network_name(egress.home)).attrs["Options"]
    assert options[ICC_OPTION] == "false"


@pytest.mark.docker
def test_an_old_network_with_neighbour_traffic_is_replaced(
        docker_client: Any, tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    old = docker_client.networks.create(network_name(home), internal=True, labels={
        HOME_LABEL: home, PORT_LABEL: "40999"})
    try:
        network = ensure_network(docker_client, home)
        attrs = docker_client.networks.get(network.name).attrs
        assert attrs["Id"] != old.id and attrs["Options"][ICC_OPTION] == "false"
    finally:
        remove_network(docker_client, home)


# -- the host guard: never silently open ------------------------------------------------

#: Runs as a non-root member of the docker group (like a desktop user): starts an egress
#: task and prints the error it gets, or OPEN if the container started.
AS_USER = """
import asyncio, sys
from pathlib import Path
from agentdeck.engine.errors import RuntimeUnavailable
from agentdeck.engine.runtimes.docker.images import TEST_IMAGE
from agentdeck.engine.models import AgentProfile
from agentdeck.engine.runtimes.base import LaunchSpec
from agentdeck.engine.runtimes.docker.runtime import DockerRuntime, Endpoint

async def main(home, port):
    rt = DockerRuntime([Endpoint("local", None, 2)], home=home, image=TEST_IMAGE)
    profile = AgentProfile(name="p", image=TEST_IMAGE, memory="64m", network=True,
                           options={"egress": ["x.org:443"]})
    spec = LaunchSpec("t-guard", 1, ("sh", "-c", "p=${HTTP_PROXY#http://}; "
                      f"echo hi | nc -w 3 ${{p%:*}} {port}"), Path(home), profile)
    try:
        sandbox = await rt.start(spec, lambda *a: None)
        await sandbox.wait()
        print("OPEN")
    except RuntimeUnavailable as exc:
        print(f"REFUSED {exc}")
    finally:
        await rt.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


@pytest.mark.docker
def test_without_root_egress_tasks_are_refused_not_left_open(
        docker_client: Any, tmp_path: Path) -> None:
    """A non-root engine cannot install the host guard: the egress task is refused with
    the reason. The host service it would have reached is real: a container on the same
    (unguarded) network gets its marker."""
    home = Path(tempfile.mkdtemp(prefix="agentdeck-guard-", dir="/tmp"))
    home.chmod(0o777)
    hits: list[bytes] = []
    server = _marker_server(hits)
    try:
        port = server.server_address[1]
        docker_gid = grp.getgrnam("docker").gr_gid
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", f"--groups={docker_gid}",
             # only to reach the interpreter under /root; it grants no network rights
             "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
             sys.executable, "-c", AS_USER, str(home), str(port)],
            capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert done.stdout.startswith("REFUSED"), (done.stdout, done.stderr)
        assert "host guard cannot be installed (installing iptables rules needs root)" \
            in done.stdout and "\n" not in done.stdout.strip()
        assert not _ours(docker_client, str(home))  # no container was started
        # The network it made has no rules: a container there reaches the service.
        gateway = docker_client.networks.get(network_name(str(home))).attrs[
            "IPAM"]["Config"][0]["Gateway"]
        reached = docker_client.containers.run(
            TEST_IMAGE, ["sh", "-c", f"echo MARKER | nc -w 3 {gateway} {port}"],
            network=network_name(str(home)), remove=True, labels={
                "agentdeck.home": str(home), "agentdeck.task": "probe"})
        assert hits == [b"MARKER\n"], reached  # the threat is real where unguarded
    finally:
        server.shutdown()
        server.server_close()
        remove_network(docker_client, str(home))
        shutil.rmtree(home, ignore_errors=True)


def _marker_server(hits: list[bytes]) -> socketserver.TCPServer:
    """A host service on all addresses (so on every bridge's gateway too) that keeps
    what it is sent."""
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            hits.append(self.rfile.readline())

    server = socketserver.ThreadingTCPServer(("0.0.0.0", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _ours(client: Any, home: str) -> list[Any]:
    return client.containers.list(all=True, filters={"label": f"agentdeck.home={home}"})
