"""Helpers of the egress tests: a Docker runtime whose egress events are kept, and a
shell function that speaks HTTP to the proxy from inside a container."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentdeck.engine.runtimes.docker.runtime import DockerRuntime
from tests.integration.conftest import Collector

Event = tuple[str, str, bool]


#: Speaks HTTP to the proxy named in $HTTP_PROXY; $1 is the request text.
ASK = r"""
ask() { p=${HTTP_PROXY#http://}; printf "$1" | nc -w 5 ${p%:*} ${p#*:} | head -1 | tr -d '\r'; }
"""


@dataclass
class Egress:
    rt: DockerRuntime
    home: str
    events: list[Event] = field(default_factory=list)


async def run_to_end(rt: DockerRuntime, spec: Any) -> list[str]:
    sink = Collector()
    sandbox = await rt.start(spec, sink)
    outcome = await sandbox.wait()
    await sandbox.cleanup()
    assert outcome.exit_code == 0, (sink.out, sink.err)
    return sink.out
