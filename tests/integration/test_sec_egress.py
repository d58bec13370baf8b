"""Egress against a hostile agent: connection floods, the host's own services, neighbours.

Every attack leaves a trace when it works (a connection the proxy served past its cap,
bytes from a host service, a neighbour's answer) and each test also shows the attack
was made (the connections were open, the listener was listening and reachable by a
container that is allowed to reach it).
"""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.egress import EgressProxy, Grant, parse_allow
from tests.fakes.llm_server import LLMServer
from tests.integration.test_egress import ASK, Egress, _run, egress  # noqa: F401 (fixture)

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
        egress: Egress, make_spec: Any) -> None:  # noqa: F811 (the fixture)
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
        out = await _run(egress.rt, spec)
    assert out[0] == f"holders={HOLDERS}"  # the flood was really open
    assert out[1] == "capped=HTTP/1.1 503 Service Unavailable"
    assert out[2] == "again=HTTP/1.1 200 OK"  # the cap lets go with the connections
    caps = [e for e in egress.events if len(e) == 4]
    assert len(caps) == 1 and caps[0][0] == spec.task_id
    assert f"{HOLDERS} connections open through the proxy" in caps[0][3]
