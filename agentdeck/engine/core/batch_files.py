"""Batch files as text, for the front ends: read one, check it against the profiles, write
one. Each reads or writes in a thread."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Collection

from agentdeck.engine.batch.file import BatchSpec, dump_batch, parse_batch_text
from agentdeck.engine.errors import InvalidInput


async def parse(text: str, *, agents: Collection[str], source: str, base_dir: Path | str,
                default_repo: Path | str | None = None,
                at_override: str | float | None = None) -> BatchSpec:
    """Check a batch file's text against the profile names ``agents`` (nothing is queued).

    Raises:
        BatchError: The text is malformed; the message names the line.
    """
    return await asyncio.to_thread(
        parse_batch_text, text, source=source, base_dir=base_dir,
        default_repo=default_repo, at_override=at_override, agents=set(agents))


async def read(path: Path | str) -> str:
    """The text of a batch file.

    Raises:
        InvalidInput: It cannot be read (names the file and why).
    """
    try:
        return await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the batch file {path}: {exc}") from exc


async def export(spec: BatchSpec, path: Path | str) -> None:
    """Write ``spec`` as a batch file.

    Raises:
        InvalidInput: It cannot be written (names the file and why).
    """
    try:
        await asyncio.to_thread(Path(path).write_text, dump_batch(spec), encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write the batch file {path}: {exc}") from exc
