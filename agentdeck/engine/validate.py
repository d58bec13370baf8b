"""What a task may be made of: each rule once, for every way a task comes in.

`Engine.submit`, `Engine.submit_batch`, the batch file reader, the CLI and the desktop's
dialogs all check through these functions, so a bad value gets the same one-line
`InvalidInput` wherever it was typed, and is refused before anything is created.
"""
from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from agentdeck.engine.errors import InvalidInput, NotFound
from agentdeck.engine.timeparse import parse_duration

#: Linux's limit on one argument of a program (MAX_ARG_STRLEN, 32 pages of 4 KiB).
ARG_LIMIT = 128 * 1024
#: The longest prompt, in UTF-8 bytes. Agents get the prompt as one command-line
#: argument (`agentdeck.engine.agents.cli_args`), so it must fit in `ARG_LIMIT` with room left for
#: the option or template text around it (``--prompt=...``).
MAX_PROMPT_BYTES = 120 * 1024
#: Priorities are stored as SQLite integers; a range people use keeps sorting meaningful.
MAX_PRIORITY = 1_000_000


def text(value: Any, what: str) -> str:
    """``value`` if it is text a program can receive: a string with no NUL byte and no
    lone surrogate (which UTF-8, SQLite and every argv refuse)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text, not {value!r}")
    nul = value.find("\0")
    if nul >= 0:
        raise InvalidInput(f"{what} contains a NUL byte (at character {nul + 1}), which no "
                           "program can receive: remove it")
    try:
        value.encode()
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"{what} is not valid Unicode text (a lone surrogate at "
                           f"character {exc.start + 1}): remove it") from None
    return value


def prompt(value: Any, what: str = "the prompt") -> str:
    """A prompt: non-empty `text` of at most `MAX_PROMPT_BYTES`."""
    text(value, what)
    if not value.strip():
        raise InvalidInput(f"{what} is empty: say what the agent should do")
    size = len(value.encode())
    if size > MAX_PROMPT_BYTES:
        raise InvalidInput(
            f"{what} is {_size(size)} ({size} bytes); the limit is {_size(MAX_PROMPT_BYTES)}, "
            f"because agents get it as one command-line argument (Linux allows "
            f"{_size(ARG_LIMIT)}): put the long part in a file in the repo and name that "
            "file in the prompt")
    return value


def title(value: Any) -> str | None:
    """An optional title (`text`); empty means "the prompt's first line"."""
    return None if value is None else text(value, "the title")


def timeout(value: Any) -> float | None:
    """Seconds, from a number or a duration such as ``"30m"``; ``None``: the profile's."""
    if value is None:
        return None
    try:
        seconds = parse_duration(value) if isinstance(value, str) else value
    except InvalidInput as exc:
        raise InvalidInput(f"the timeout: {exc}") from None
    if not _finite_number(seconds) or seconds <= 0:
        raise InvalidInput(f"the timeout must be seconds above zero or a duration like "
                           f"\"30m\", not {value!r}")
    return float(seconds)


def budget(value: Any) -> float | None:
    """Dollars above zero; ``None``: no budget of its own."""
    if value is None:
        return None
    if not _finite_number(value) or value <= 0:
        raise InvalidInput(f"the budget must be a number of dollars above zero, not {value!r}")
    return float(value)


def priority(value: Any) -> int:
    """A whole number within ±`MAX_PRIORITY`."""
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_PRIORITY:
        raise InvalidInput(f"the priority must be a whole number from -{MAX_PRIORITY} to "
                           f"{MAX_PRIORITY}, not {value!r}")
    return value


#: The most attempts one best-of-N group runs (each is a full task with its own copy).
MAX_GROUP = 12


def group_size(agents: Collection[str], attempts: Any) -> int:
    """How many tasks a best-of-N group of ``attempts`` per agent makes: 2 to `MAX_GROUP`."""
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise InvalidInput(f"the attempts must be a whole number of at least 1, not {attempts!r}")
    size = len(agents) * attempts
    if size < 2:
        raise InvalidInput("a best-of-N group needs at least 2 attempts: give --attempts 2 "
                           "or more, or several agents")
    if size > MAX_GROUP:
        raise InvalidInput(f"a best-of-N group runs at most {MAX_GROUP} attempts, not {size} "
                           f"({len(agents)} agent(s) x {attempts})")
    return size


def start_time(value: Any) -> float | None:
    """Epoch seconds (finite); ``None``: start right away."""
    if value is None:
        return None
    if not _finite_number(value):
        raise InvalidInput(f"the start time must be a time, not {value!r}")
    return float(value)


def name_in(name: str, known: Collection[str], what: str) -> str:
    """``name`` if it is one of ``known``; `NotFound` listing them otherwise."""
    if name not in known:
        raise NotFound(f"no {what} named {name!r}; known: {', '.join(sorted(known))}")
    return name


def _finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _size(count: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{count} bytes"
