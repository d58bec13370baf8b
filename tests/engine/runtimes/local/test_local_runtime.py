"""The embedded local runtime with real processes: output, exit codes, stop, re-attach."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from pathlib import Path

import psutil
import pytest

from agentdeck.engine.errors import InvalidInput, RuntimeUnavailable
from agentdeck.engine.models import AgentProfile, Stream
from agentdeck.engine.runtimes.base import MAX_LINE_BYTES, LaunchSpec, Outcome, cut_marker
from agentdeck.engine.runtimes.lines import BATCH_LINES, LineSplitter
from agentdeck.engine.runtimes.local.runtime import LOST_WHILE_AWAY, LocalRuntime
from agentdeck.engine.runtimes.local.launch import RunDir, is_alive
from agentdeck.engine.runtimes.loopfeed import LoopFeed
from agentdeck.engine.runtimes.local.tail import decode_cursor

PROFILE = AgentProfile("test")


class Collector:
    """A sink that keeps every line and the last cursor, checking it runs on the loop."""

    def __init__(self) -> None:
        self.lines: dict[Stream, list[str]] = {Stream.STDOUT: [], Stream.STDERR: []}
        self.calls = 0
        self.cursor: str | None = None
        self.loop = asyncio.get_running_loop()

    def __call__(self, stream: Stream, lines: list[str], cursor: str) -> None:
        assert asyncio.get_running_loop() is self.loop
        self.lines[stream].extend(lines)
        self.calls += 1
        self.cursor = cursor

    @property
    def out(self) -> list[str]:
        return self.lines[Stream.STDOUT]

    @property
    def err(self) -> list[str]:
        return self.lines[Stream.STDERR]


@pytest.fixture
async def runtime(tmp_path: Path):
    rt = LocalRuntime(runs_dir=tmp_path / "runs")
    yield rt
    await rt.close()
    _kill_leftovers(tmp_path)


def _kill_leftovers(root: Path) -> None:
    """Teardown: whatever a test left running is terminated, then killed."""
    for pids_file in root.rglob("pids"):
        agent = RunDir(pids_file.parent).pids().get("agent")
        if is_alive(agent):
            for signum in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(agent["pid"], signum)
                except ProcessLookupError:
                    break
                time.sleep(0.1)


def spec_for(tmp_path: Path, argv: list[str], task: str = "t1", **env: str) -> LaunchSpec:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return LaunchSpec(task, 1, tuple(argv), work, PROFILE, env=dict(env))


def host_process(ref: str, inner_pid: int) -> psutil.Process:
    """The process a confined agent knows as ``inner_pid`` (its PID namespace's numbering)."""
    agent = psutil.Process(RunDir(Path(ref)).pids()["agent"]["pid"])
    for proc in agent.children(recursive=True):
        nspids = Path(f"/proc/{proc.pid}/status").read_text().split("NSpid:")[1].split("\n")[0]
        if int(nspids.split()[-1]) == inner_pid:
            return proc
    raise AssertionError(f"no process {inner_pid} in the sandbox of {ref}")


def py(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


async def until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


# -- the line splitter ---------------------------------------------------------------------

def _split_all(data: bytes, step: int, offset: int = 0) -> tuple[list[str], list[int]]:
    splitter, lines, ends = LineSplitter(offset), [], []
    for i in range(0, len(data), step):
        for batch, end in splitter.feed(data[i:i + step]):
            lines += batch
            ends.append(end)
    for batch, end in splitter.flush():
        lines += batch
        ends.append(end)
    return lines, ends


def test_splitter_gives_the_same_lines_whatever_the_chunking():
    data = "α line\n\nbéta\r\nlast without newline".encode() + b"\n" * 3 + b"tail"
    whole, _ = _split_all(data, len(data))
    assert whole == ["α line", "", "béta\r", "last without newline", "", "", "tail"]
    for step in (1, 2, 3, 7):
        assert _split_all(data, step)[0] == whole


def test_splitter_offsets_resume_exactly_after_each_batch():
    data = b"".join(b"%d\n" % i for i in range(3 * BATCH_LINES + 5)) + b"partial"
    splitter = LineSplitter()
    batches = splitter.feed(data)
    assert [len(lines) for lines, _ in batches] == [BATCH_LINES] * 3 + [5]
    for lines, end in batches:
        rest, ends = _split_all(data[end:], 1000, offset=end)
        assert [*lines[-1:], *rest] == [str(i) for i in range(int(lines[-1]), 3 * BATCH_LINES + 5)] + ["partial"]
        assert ends[-1] == len(data)
    assert splitter.flush() == [(["partial"], len(data))]


def test_splitter_cuts_long_lines_and_keeps_characters_whole():
    long = "é".encode() * MAX_LINE_BYTES  # 2 bytes a character: the cut lands mid-character
    data = b"short\n" + long + b"\nnext\n"
    for step in (len(data), 4096, 65537):
        lines, ends = _split_all(data, step)
        kept = "é" * (MAX_LINE_BYTES // 2)
        assert lines == ["short", kept + cut_marker(len(long) - MAX_LINE_BYTES), "next"]
        assert ends[-1] == len(data)
        after_cut = len(b"short\n" + long + b"\n")
        if step < len(data):  # the cut line ended a batch: resuming right after it works
            assert after_cut in ends
            assert _split_all(data[after_cut:], step, offset=after_cut)[0] == ["next"]


def test_splitter_replaces_invalid_utf8_and_drops_nul():
    lines, _ = _split_all(b"a\xff\xfeb\nnul\x00here\n\xe2\x82\n", 2)
    assert lines == ["a\ufffd\ufffdb", "nulhere", "\ufffd"]


def test_cursor_rejects_garbage():
    with pytest.raises(InvalidInput, match="cursor"):
        decode_cursor("not json")
    assert decode_cursor(None).offsets == {Stream.STDOUT: 0, Stream.STDERR: 0}


# -- running agents ---------------------------------------------------------------------------

async def test_output_is_complete_ordered_and_separated(runtime, tmp_path):
    sink = Collector()
    sandbox = await runtime.start(spec_for(tmp_path, py("""
        import sys
        for i in range(30000):
            print(f"out {i}")
            if i % 5 == 0:
                print(f"err {i}", file=sys.stderr)
        sys.stdout.write("no newline at the end")
    """)), sink)
    outcome = await sandbox.wait()
    assert outcome == Outcome(exit_code=0)
    assert sink.out == [f"out {i}" for i in range(30000)] + ["no newline at the end"]
    assert sink.err == [f"err {i}" for i in range(0, 30000, 5)]
    assert sink.calls < 30000 // 100  # batches, not a call per line
    assert decode_cursor(sink.cursor).offsets[Stream.STDOUT] == (Path(sandbox.ref) / "stdout.log").stat().st_size


async def test_environment_is_minimal_plus_spec_env_and_cwd_is_workdir(runtime, tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTDECK_HOST_SECRET", "leak")
    sink = Collector()
    spec = spec_for(tmp_path, ["sh", "-c", "pwd; env"], GIVEN="value")
    await (await runtime.start(spec, sink)).wait()
    assert sink.out[0] == str(spec.workdir)
    env = dict(line.split("=", 1) for line in sink.out[1:] if "=" in line)
    assert env["GIVEN"] == "value" and env["TERM"] == "dumb" and "PATH" in env
    assert "AGENTDECK_HOST_SECRET" not in env


async def test_agent_starts_with_no_signal_ignored_or_blocked(runtime, tmp_path):
    previous = signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # as an engine might
    try:
        sink = Collector()
        await (await runtime.start(spec_for(tmp_path, ["grep", "^Sig[IB]", "/proc/self/status"]), sink)).wait()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    masks = {line.split(":")[0]: int(line.split()[1], 16) for line in sink.out}
    # Signals 32 and 33 are glibc's own (NPTL): no process can change them (sigaction
    # refuses), and `make` hands them down ignored. Every ordinary signal must be clear.
    glibc_reserved = (1 << 31) | (1 << 32)
    assert masks == {"SigBlk": masks["SigBlk"] & glibc_reserved,
                     "SigIgn": masks["SigIgn"] & glibc_reserved}


async def test_an_agent_installed_under_tmp_runs_and_sees_only_its_install_dir(runtime,
                                                                               tmp_path):
    """The sandbox's /tmp is fresh, yet an agent (or a venv's Python, as in a CI clone
    under /tmp) installed there still runs: its install dir is bound onto the fresh /tmp."""
    tool = tmp_path / "tool"
    tool.mkdir()
    (tmp_path / "beside.txt").write_text("not for the agent\n")
    script = tool / "agent"
    script.write_text(f"#!/bin/sh\necho installed-agent-ran\ncat {tmp_path}/beside.txt\n")
    script.chmod(0o755)
    sink = Collector()
    outcome = await (await runtime.start(spec_for(tmp_path, [str(script)]), sink)).wait()
    assert sink.out == ["installed-agent-ran"] and outcome.exit_code == 1, sink.err
    assert any("No such file" in line for line in sink.err)


async def test_exit_code_and_signal(runtime, tmp_path):
    first = await runtime.start(spec_for(tmp_path, ["sh", "-c", "exit 7"], task="a"), Collector())
    second = await runtime.start(spec_for(tmp_path, ["sh", "-c", "kill -KILL $$"], task="b"), Collector())
    assert await first.wait() == Outcome(exit_code=7)
    assert await second.wait() == Outcome(exit_code=-9, reason="killed by SIGKILL")


async def test_missing_program_exits_127_with_reason(runtime, tmp_path):
    sink = Collector()
    sandbox = await runtime.start(spec_for(tmp_path, ["/nonexistent/agent"]), sink)
    outcome = await sandbox.wait()
    assert outcome.exit_code == 127 and "cannot start agent" in outcome.reason
    assert "/nonexistent/agent" in sink.err[0]


_GRANDCHILD = """
import signal, subprocess, sys
if sys.argv[1] == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
grand = subprocess.Popen(["sleep", "1000"])
print(grand.pid, flush=True)
grand.wait()
"""

_GROUP_SCRIPT = """
import signal, subprocess, sys
if sys.argv[1] == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", sys.argv[2], "ignore"])
print(child.pid, flush=True)
child.wait()
"""


@pytest.mark.parametrize("agent_ignores, expected", [(True, -9), (False, -15)])
async def test_stop_kills_the_whole_group(runtime, tmp_path, agent_ignores, expected):
    """The child always ignores SIGTERM; when the agent does too, SIGKILL follows the grace."""
    sink = Collector()
    argv = [sys.executable, "-c", _GROUP_SCRIPT, "ignore" if agent_ignores else "-", _GRANDCHILD]
    sandbox = await runtime.start(spec_for(tmp_path, argv), sink)
    await until(lambda: len(sink.out) == 2)
    procs = [host_process(sandbox.ref, int(pid)) for pid in sink.out]
    await sandbox.stop(grace=0.5)
    outcome = await sandbox.wait()
    assert outcome.exit_code == expected
    gone, alive = psutil.wait_procs(procs, timeout=5)
    assert alive == []


async def test_stop_after_exit_is_harmless(runtime, tmp_path):
    sandbox = await runtime.start(spec_for(tmp_path, ["true"]), Collector())
    assert (await sandbox.wait()).exit_code == 0
    await sandbox.stop(grace=0)
    assert (await sandbox.wait()).exit_code == 0


async def test_huge_line_without_newline_is_cut_in_bounded_memory(runtime, tmp_path):
    size = 50_000_000
    sink = Collector()
    tracemalloc.start()
    try:
        sandbox = await runtime.start(spec_for(tmp_path, py(f"""
            import sys
            block = b"x" * 1_000_000
            for _ in range({size} // len(block)):
                sys.stdout.buffer.write(block)
        """)), sink)
        await sandbox.wait()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.out == ["x" * MAX_LINE_BYTES + cut_marker(size - MAX_LINE_BYTES)]
    assert peak < 8_000_000


async def test_binary_output_does_not_break_anything(runtime, tmp_path):
    sink = Collector()
    payload = os.urandom(2_000_000) + b"\nafter binary\n"
    spec = spec_for(tmp_path, ["cat", "blob"])
    (spec.workdir / "blob").write_bytes(payload)  # the sandbox shows the working copy only
    sandbox = await runtime.start(spec, sink)
    assert (await sandbox.wait()).exit_code == 0
    assert len(sink.out) == payload.count(b"\n")
    assert sink.out[-1] == "after binary"
    assert not any("\0" in line for line in sink.out)


async def test_sink_error_fails_wait(runtime, tmp_path):
    def broken(stream, lines, cursor):
        raise ValueError("store is full")

    sandbox = await runtime.start(spec_for(tmp_path, ["echo", "hi"]), broken)
    with pytest.raises(ValueError, match="store is full"):
        await sandbox.wait()


async def test_one_reader_thread_for_many_sandboxes(runtime, tmp_path):
    sinks = [Collector() for _ in range(12)]
    sandboxes = [await runtime.start(spec_for(tmp_path, ["sh", "-c", "seq 1 2000; sleep 0.3"], task=f"t{i}"), s)
                 for i, s in enumerate(sinks)]
    readers = [t for t in threading.enumerate() if t.name == "agentdeck-local-tail"]
    assert len(readers) == 1
    for sandbox, sink in zip(sandboxes, sinks):
        assert (await sandbox.wait()).exit_code == 0
        assert sink.out == [str(i) for i in range(1, 2001)]


async def test_start_refuses_a_run_dir_of_a_live_agent(runtime, tmp_path):
    spec = spec_for(tmp_path, ["sh", "-c", "echo up; exec sleep 30"])
    sink = Collector()
    sandbox = await runtime.start(spec, sink)
    with pytest.raises(InvalidInput, match="running agent"):
        await runtime.start(spec, Collector())
    # Until the sandbox hands the agent its signals (a few ms), SIGTERM is ignored there
    # and a stop ends it by SIGKILL after the grace: stop it once it runs.
    await until(lambda: sink.out == ["up"])
    await sandbox.stop(grace=1)
    assert (await sandbox.wait()).exit_code == -15


async def test_check_and_free_slots(runtime):
    await runtime.check()
    assert runtime.free_slots() is None


# -- re-attaching from another runtime instance (an engine restart) ----------------------------

_PRINTER = """
import sys, time
n, block, pause = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
for start in range(0, n, block):
    stop = min(n, start + block)
    # One write of many lines (a read then yields several batches), ending in half a line
    # that stays on disk while we sleep: a cursor must neither split nor skip it.
    sys.stdout.write("".join(f"line {i} end\\n" for i in range(start, stop - 1)) + f"line {stop - 1} ")
    sys.stdout.flush()
    sys.stdout.write("end\\n")
    sys.stderr.write("".join(f"err {i}\\n" for i in range(start, stop) if i % 7 == 0))
    sys.stderr.flush()
    time.sleep(pause)
sys.stdout.flush()
"""


def printer(n: int, block: int, pause: float) -> list[str]:
    return [sys.executable, "-c", _PRINTER, str(n), str(block), str(pause)]


def printed(n: int) -> tuple[list[str], list[str]]:
    return [f"line {i} end" for i in range(n)], [f"err {i}" for i in range(0, n, 7)]


class FirstPart(Collector):
    """What an engine stored before it died: everything up to some batch, with its cursor."""

    def __init__(self, enough: int) -> None:
        super().__init__()
        self.enough = enough

    def __call__(self, stream: Stream, lines: list[str], cursor: str) -> None:
        if len(self.out) < self.enough:
            super().__call__(stream, lines, cursor)


async def test_reattach_while_printing_loses_and_doubles_nothing(tmp_path):
    n = 30000
    first_rt, second_rt = LocalRuntime(tmp_path / "runs"), LocalRuntime(tmp_path / "runs")
    try:
        first = FirstPart(enough=3000)
        spec = spec_for(tmp_path, printer(n, block=6000, pause=0.05))
        sandbox = await first_rt.start(spec, first)
        await until(lambda: len(first.out) >= first.enough)
        await first_rt.close()
        assert RunDir(Path(sandbox.ref)).exit_outcome() is None, "the agent should still be printing"
        second = Collector()
        again = await second_rt.attach(spec, sandbox.ref, first.cursor, second)
        assert await again.wait() == Outcome(exit_code=0)
    finally:
        await second_rt.close()
        _kill_leftovers(tmp_path)
    out, err = printed(n)
    assert first.out + second.out == out
    assert first.err + second.err == err


async def test_attach_after_the_agent_finished_gives_the_rest_and_exit_code(tmp_path):
    n = 3000
    first_rt, second_rt = LocalRuntime(tmp_path / "runs"), LocalRuntime(tmp_path / "runs")
    try:
        first = FirstPart(enough=500)
        spec = spec_for(tmp_path, printer(n, block=100, pause=0.005))
        sandbox = await first_rt.start(spec, first)
        await until(lambda: len(first.out) >= first.enough)
        await first_rt.close()
        await until(lambda: RunDir(Path(sandbox.ref)).exit_outcome() is not None)
        second = Collector()
        again = await second_rt.attach(spec, sandbox.ref, first.cursor, second)
        assert await again.wait() == Outcome(exit_code=0)
    finally:
        await second_rt.close()
    out, err = printed(n)
    assert first.out + second.out == out
    assert first.err + second.err == err


async def test_attach_when_the_processes_died_without_exit_file_is_lost(tmp_path):
    first_rt, second_rt = LocalRuntime(tmp_path / "runs"), LocalRuntime(tmp_path / "runs")
    try:
        spec = spec_for(tmp_path, ["sh", "-c", "echo before; sleep 1000"])
        sandbox = await first_rt.start(spec, Collector())
        await first_rt.close()
        # The supervisor writes the log: let it store the line before it is killed.
        await until(lambda: (Path(sandbox.ref) / "stdout.log").read_bytes() == b"before\n")
        pids = RunDir(Path(sandbox.ref)).pids()
        os.kill(pids["supervisor"]["pid"], signal.SIGKILL)   # like a reboot: nobody is left
        os.killpg(pids["agent"]["pid"], signal.SIGKILL)
        second = Collector()
        again = await second_rt.attach(spec, sandbox.ref, None, second)
        assert await again.wait() == Outcome(exit_code=None, lost=True, reason=LOST_WHILE_AWAY)
        assert second.out == ["before"]
        nowhere = await second_rt.attach(spec, str(tmp_path / "no-such-run"), None, Collector())
        assert (await nowhere.wait()).lost
    finally:
        await second_rt.close()


async def test_a_cursor_of_an_earlier_sandbox_in_the_same_run_dir_starts_from_zero(runtime, tmp_path):
    old_sink, new_sink = Collector(), Collector()
    old = await runtime.start(spec_for(tmp_path, ["seq", "1", "100"]), old_sink)
    await old.wait()
    new = await runtime.start(spec_for(tmp_path, ["seq", "1001", "1010"]), Collector())
    assert new.ref == old.ref
    await new.wait()
    again = await runtime.attach(spec_for(tmp_path, ["seq"]), new.ref, old_sink.cursor, new_sink)
    await again.wait()
    assert new_sink.out == [str(i) for i in range(1001, 1011)]


_ENGINE = """
import asyncio, sys
from pathlib import Path
from agentdeck.engine.models import AgentProfile
from agentdeck.engine.runtimes.base import LaunchSpec
from agentdeck.engine.runtimes.local.runtime import LocalRuntime

async def main():
    runtime = LocalRuntime(Path(sys.argv[1]))
    spec = LaunchSpec("k", 1, tuple(sys.argv[3:]), Path(sys.argv[2]), AgentProfile("x"))
    sandbox = await runtime.start(spec, lambda stream, lines, cursor: None)
    print(sandbox.ref, flush=True)
    await asyncio.sleep(1000)

asyncio.run(main())
"""


async def test_agent_outlives_a_killed_engine(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    agent = [sys.executable, "-c", "import time\nfor i in range(40):\n print(i, flush=True)\n time.sleep(0.02)"]
    engine = subprocess.Popen([sys.executable, "-c", _ENGINE, str(tmp_path / "runs"), str(work), *agent],
                              stdout=subprocess.PIPE, text=True)
    with engine:
        ref = engine.stdout.readline().strip()
        engine.kill()
        engine.wait()
    assert is_alive(RunDir(Path(ref)).pids()["agent"])
    runtime = LocalRuntime()
    try:
        sink = Collector()
        sandbox = await runtime.attach(spec_for(tmp_path, agent), ref, None, sink)
        assert await sandbox.wait() == Outcome(exit_code=0)
    finally:
        await runtime.close()
    assert sink.out == [str(i) for i in range(40)]


async def test_cleanup_ends_the_agent_and_removes_only_run_files(runtime, tmp_path):
    spec = spec_for(tmp_path, ["sleep", "1000"])
    sandbox = await runtime.start(spec, Collector())
    agent = RunDir(Path(sandbox.ref)).pids()["agent"]
    await sandbox.cleanup()
    assert not is_alive(agent)
    assert not Path(sandbox.ref).exists()
    kept = await runtime.start(spec_for(tmp_path, ["true"], task="t2"), Collector())
    await kept.wait()
    await kept.cleanup(keep=True)
    assert (Path(kept.ref) / "exit").exists()


async def test_agent_env_does_not_reach_the_supervisor(runtime, tmp_path):
    spec = spec_for(tmp_path, ["true"])
    broken = spec.workdir / "badlib"  # in the working copy: the sandbox shows it
    broken.mkdir()
    (broken / "libc.so.6").write_text("not a library")  # the dynamic loader refuses to start
    sink = Collector()
    spec = spec_for(tmp_path, ["true"], LD_LIBRARY_PATH=str(broken))
    sandbox = await runtime.start(spec, sink)
    assert (await sandbox.wait()).exit_code == 127  # only the agent fails to load, and says so
    assert "libc.so.6" in sink.err[0]


async def test_a_supervisor_that_cannot_run_is_reported_with_its_output(tmp_path):
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\necho 'boom: no engine package here' >&2\nexit 1\n")
    python.chmod(0o755)
    runtime = LocalRuntime(runs_dir=tmp_path / "runs", python=str(python))
    with pytest.raises(RuntimeUnavailable, match=r"supervisor failed \(exit 1\): boom"):
        await runtime.start(spec_for(tmp_path, ["true"]), Collector())
    await runtime.close()


async def test_loop_feed_lets_other_work_run_between_turns():
    loop = asyncio.get_running_loop()
    feed = LoopFeed(loop, lines_per_turn=10)
    order: list[str] = []
    done = asyncio.Event()
    calls = [(order.append, (f"batch {i}",), 10) for i in range(10)] + [(lambda: done.set(), (), 0)]
    threading.Thread(target=feed.push, args=(calls,)).start()
    while not order:
        await asyncio.sleep(0)
    loop.call_soon(order.append, "other work")
    await done.wait()
    assert order.index("other work") < 5  # not after the whole flood
    assert [o for o in order if o != "other work"] == [f"batch {i}" for i in range(10)]
