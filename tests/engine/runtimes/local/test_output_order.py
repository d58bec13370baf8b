"""Stdout and stderr lines of one local agent keep their relative order, also across a
re-attach from any stored cursor."""
from __future__ import annotations

import os
import random
import sys
import textwrap

from agentdeck.engine.models import AgentProfile, Stream
from agentdeck.engine.runtimes.base import LaunchSpec
from agentdeck.engine.runtimes.local.runtime import LocalRuntime
from agentdeck.engine.runtimes.local.order_log import ORDER_LOG, RECORD, OrderReader, OrderWriter
from tests.engine.enginekit import make_repo, open_engine, wait_done

LINES = 300

#: Writes LINES lines to stdout or stderr (a fixed random pattern, runs of several lines
#: too), each with its own write, and waits until the supervisor has read it (the pipe is
#: empty) before the next: each line is written after the one before reached agentdeck,
#: so their order is one agentdeck can and must keep. (Two pipes carry no order of their
#: own: lines written faster than they are read are ordered as they are read.)
ALTERNATE = textwrap.dedent(f"""
    import fcntl, os, random, struct, termios, time
    pattern = random.Random(7)
    for i in range({LINES}):
        fd = pattern.choice((1, 1, 2))
        os.write(fd, f"{{'out' if fd == 1 else 'err'}} {{i}}\\n".encode())
        while struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\\0" * 4))[0]:
            time.sleep(0.0002)
""")


def _expected() -> list[tuple[Stream, str]]:
    pattern = random.Random(7)
    out = []
    for i in range(LINES):
        fd = pattern.choice((1, 1, 2))
        out.append((Stream.STDOUT, f"out {i}") if fd == 1 else (Stream.STDERR, f"err {i}"))
    return out


async def test_stdout_and_stderr_lines_are_stored_in_the_order_they_were_written(tmp_path):
    repo = make_repo(tmp_path / "repo", {"alternate.py": ALTERNATE})
    engine = await open_engine(tmp_path / "home")
    try:
        task = await engine.submit(repo, "/usr/bin/python3 alternate.py", runtime="local")
        done = await wait_done(engine, task.id, timeout=120)
        assert done.error is None
        entries = [e for e in await engine.get_logs(task.id, limit=None)
                   if e.stream in (Stream.STDOUT, Stream.STDERR)]
        assert [e.seq for e in entries] == sorted(e.seq for e in entries)
        assert [(e.stream, e.text) for e in entries] == _expected()
    finally:
        await engine.close()


class Batches:
    """A sink keeping each batch with its cursor."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[tuple[Stream, str]], str]] = []

    def __call__(self, stream: Stream, lines: list[str], cursor: str) -> None:
        self.batches.append(([(stream, line) for line in lines], cursor))

    def lines(self) -> list[tuple[Stream, str]]:
        return [line for batch, _ in self.batches for line in batch]


async def test_attach_from_any_cursor_goes_on_in_order_without_loss_or_double(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    spec = LaunchSpec("t1", 1, (sys.executable, "-c", ALTERNATE), work, AgentProfile("test"))
    first = LocalRuntime(runs_dir=tmp_path / "runs")
    sink = Batches()
    try:
        sandbox = await first.start(spec, sink)
        assert (await sandbox.wait()).exit_code == 0
    finally:
        await first.close()
    assert sink.lines() == _expected()
    assert len(sink.batches) > 20  # the streams switched often: many cursors to resume from
    for at in range(0, len(sink.batches), 5):
        before = [line for batch, _ in sink.batches[:at + 1] for line in batch]
        again, rest = LocalRuntime(runs_dir=tmp_path / "runs"), Batches()
        try:
            resumed = await again.attach(spec, sandbox.ref, sink.batches[at][1], rest)
            assert (await resumed.wait()).exit_code == 0
        finally:
            await again.close()
        assert before + rest.lines() == _expected(), f"resumed after batch {at}"


def test_the_order_log_is_bounded_and_then_leaves_the_streams_unordered(tmp_path):
    """An agent switching streams at every line cannot grow the order log past its limit:
    after it, one FREE record, and each stream is read in its own order."""
    path = tmp_path / ORDER_LOG
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    writer, sizes = OrderWriter(fd, limit=2), [0, 0]
    for stream in (0, 1, 0, 1, 0, 1, 0):
        writer.switch(stream, sizes)
        sizes[stream] += 2  # a line of two bytes
    os.close(fd)
    assert path.stat().st_size == 3 * RECORD.size
    reader = OrderReader(path)
    assert reader.plan([0, 0], sizes) == [(0, 2, 0), (1, 2, 1), (0, 4, 2), (0, 8, 3), (1, 6, 3)]
    assert reader.index == 3
