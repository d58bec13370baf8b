"""Docker endpoints as the user writes them (``[name] url [max parallel]``), read without
the Docker SDK: the settings dialog shows them as they are typed, and importing the SDK
costs the desktop's start a good part of a second."""
from __future__ import annotations

import os
from dataclasses import dataclass

from agentdeck.engine.errors import InvalidInput

#: Where the Docker SDK looks when neither an endpoint's URL nor DOCKER_HOST says.
DEFAULT_SOCKET = "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class Endpoint:
    """One Docker daemon.

    Args:
        name: a short unique name, kept in sandbox refs ("local", "build-box").
        url: the daemon address (``unix://``, ``tcp://``, ``ssh://``); None means
            ``DOCKER_HOST`` or the platform default.
        max_parallel: how many task containers it may run at once.
    """

    name: str
    url: str | None = None
    max_parallel: int = 4


def parse_endpoint(text: str) -> Endpoint:
    """An endpoint from a settings line: ``[NAME] URL [MAX_PARALLEL]``.

    ``URL`` may be ``default`` (``DOCKER_HOST`` or the local socket). Without a name the
    URL's host is the name. Examples: ``tcp://10.0.0.5:2376``,
    ``build-box ssh://me@build-box 8``, ``local default 4``.

    Raises:
        InvalidInput: the line does not have that shape.
    """
    words = text.split()
    if words and words[-1].isdigit():
        *words, slots = words
    else:
        slots = str(max(2, os.cpu_count() or 2))
    if len(words) == 1:
        words = [_name_of(words[0]), words[0]]
    if len(words) != 2 or int(slots) < 1 or not ("://" in words[1] or words[1] == "default"):
        raise InvalidInput(f"cannot read the Docker endpoint {text!r}: write "
                           "'[name] url [max parallel]', e.g. 'box tcp://10.0.0.5:2376 4'")
    name, url = words
    return Endpoint(name, None if url == "default" else url, int(slots))


def _name_of(url: str) -> str:
    if url == "default":
        return "local"
    host = url.split("://", 1)[-1].split("@")[-1].split(":")[0].strip("/")
    return host or "local"


def default_endpoint() -> Endpoint:
    """The daemon of ``DOCKER_HOST`` (or the default socket), as many slots as CPUs."""
    return Endpoint("local", None, max(2, os.cpu_count() or 2))


def endpoint_slots(lines: list[str]) -> list[tuple[str, str, int]]:
    """Each endpoint the settings ``lines`` give (the local daemon when there are none):
    its name, its address and how many task containers it runs at once.

    Raises:
        InvalidInput: a line is not ``[name] url [max parallel]``.
    """
    endpoints = [parse_endpoint(line) for line in lines if line.strip()] or [default_endpoint()]
    return [(e.name, _address(e), e.max_parallel) for e in endpoints]


def describe(endpoint: Endpoint) -> str:
    """How to name an endpoint in a message to the user: with the address it really
    uses (``DOCKER_HOST`` when that is where the platform default points)."""
    return f"Docker endpoint {endpoint.name} ({_address(endpoint)})"


def _address(endpoint: Endpoint) -> str:
    if endpoint.url is not None:
        return endpoint.url
    if os.environ.get("DOCKER_HOST"):
        return f"DOCKER_HOST={os.environ['DOCKER_HOST']}"
    return f"the default socket {DEFAULT_SOCKET}"
