"""Every message the user guide's Troubleshooting section quotes is one the program can print.

The guide writes a message with ``<...>`` where the program fills something in. Each is
looked for in the string literals of agentdeck/ (f-strings with their ``{...}`` parts as
placeholders, a module's own string constants filled in), so a reworded message in the
code fails here until the guide says the same.
"""
from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "user-guide.md"
HOLE = "\x00"  # where the program fills something in


def guide_messages() -> list[str]:
    section = GUIDE.read_text(encoding="utf-8").split("## Troubleshooting", 1)[1]
    return re.findall(r"```text\n(.*?)\n```", section, flags=re.S)


def _constants(tree: ast.Module) -> dict[str, str]:
    """The module's ``NAME = "text"`` constants (implicit concatenation included)."""
    found = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            found[node.targets[0].id] = node.value.value
    return found


def _render(node: ast.JoinedStr, constants: dict[str, str]) -> str:
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(value.value)
        elif isinstance(value.value, ast.Name) and value.value.id in constants:
            parts.append(constants[value.value.id])
        else:
            parts.append(HOLE)
    return "".join(parts)


@cache
def program_strings() -> tuple[str, ...]:
    strings = []
    for path in (ROOT / "agentdeck").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _constants(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                strings.append(_render(node, constants))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.append(node.value)
    return tuple(strings)


def as_pattern(message: str) -> re.Pattern[str]:
    """The guide's text with each ``<...>`` matching one hole of the program's string."""
    pieces = re.split(r"<[^<>]+>", message)
    return re.compile(HOLE.join(re.escape(piece) for piece in pieces))


def test_the_guide_quotes_messages() -> None:
    assert len(guide_messages()) >= 10


@pytest.mark.parametrize("message", guide_messages())
def test_a_quoted_message_is_printed_by_the_program(message: str) -> None:
    pattern = as_pattern(message)
    assert any(pattern.search(text) for text in program_strings()), (
        f"no string in agentdeck/ says {message!r}: reword the guide or the code")


def test_a_reworded_message_is_caught() -> None:
    assert not any(as_pattern("disk full at <path>: buy a bigger disk").search(text)
                   for text in program_strings())
