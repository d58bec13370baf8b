"""Running the local runtime's Python helpers (the supervisor launcher, the egress
forwarder) from a frozen build, which has no Python interpreter.

The helpers start as ``python -I -c CODE ARGS...`` and ``python -I -S FILE ARGS...``. In a
PyInstaller build ``sys.executable`` is agentdeck's own executable; given `MARKER` as its
first argument, it runs the rest of the command line the way ``python`` would
(`run_as_python`, called by the frozen entry script before anything else is imported).
"""
from __future__ import annotations

import os
import runpy
import sys

#: First argument that makes the frozen executable act as ``python`` (never typed by users).
MARKER = "--agentdeck-run-python"
#: The interpreter options the helpers pass; a frozen build has nothing to isolate.
_IGNORED_FLAGS = {"-I", "-S"}


def python_command(python: str) -> list[str]:
    """The start of a command line that runs Python code with ``python``: itself, or, when
    ``python`` is this frozen build's executable, that executable and `MARKER`."""
    frozen = getattr(sys, "frozen", False)
    if frozen and os.path.realpath(python) == os.path.realpath(sys.executable):
        return [python, MARKER]
    return [python]


def run_as_python(argv: list[str]) -> int | None:
    """Run ``argv`` (``EXE MARKER [-I] [-S] (-c CODE | FILE) ARGS...``) as ``python`` would;
    None when ``argv`` does not start with `MARKER` (a normal start of the program).

    The code runs as ``__main__`` with ``sys.argv`` set as ``python`` sets it; its exit
    status is returned (a ``SystemExit`` it raises included).
    """
    if len(argv) < 2 or argv[1] != MARKER:
        return None
    rest = argv[2:]
    while rest and rest[0] in _IGNORED_FLAGS:
        rest = rest[1:]
    if not rest:
        print(f"usage: {argv[0]} {MARKER} [-I] [-S] (-c CODE | FILE) [ARGS...]", file=sys.stderr)
        return 2
    try:
        if rest[0] == "-c" and len(rest) > 1:
            sys.argv = ["-c", *rest[2:]]
            exec(compile(rest[1], "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102
        else:
            sys.argv = rest
            runpy.run_path(rest[0], run_name="__main__")
    except SystemExit as exc:
        return _exit_status(exc.code)
    return 0


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
