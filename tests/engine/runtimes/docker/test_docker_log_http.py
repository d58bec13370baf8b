"""The Docker log reader uses only public API of the SDK, requests and urllib3: private
attributes (``raw._fp.fp``, ``api._get``) change without notice between their releases."""
from __future__ import annotations

import ast
from pathlib import Path

import agentdeck.engine.runtimes.docker.http as log_http


def private_uses(source: str) -> list[str]:
    """``obj._name`` accesses in ``source`` on anything but ``self``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id == "self")):
            found.append(f"line {node.lineno}: .{node.attr}")
    return found


def test_the_scan_sees_private_attributes() -> None:
    assert private_uses("fp = response.raw._fp.fp\nself._x = 1") == ["line 1: ._fp"]


def test_the_log_reader_touches_no_private_attribute() -> None:
    assert private_uses(Path(log_http.__file__).read_text()) == []
