"""Progress of `run`, `batch` and `image build`: a rich bar on a terminal (a real pty),
plain lines through a pipe."""
from __future__ import annotations

import fcntl
import json
import os
import select
import struct
import subprocess
import sys
import termios
import time

from agentdeck.cli.image import _show
from agentdeck.cli.progress import Progress
from tests.engine.enginekit import make_repo

BAR = "━"  # what rich draws a bar with


def _env(tmp_path) -> dict[str, str]:
    return {**os.environ, "AGENTDECK_HOME": str(tmp_path / "home"), "TERM": "xterm-256color",
            "COLUMNS": "120"}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "agentdeck.cli.main", *args]


def in_pty(argv: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    """Run ``argv`` with stdin, stdout and stderr on a new pty; its exit code and output."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 1)[0]:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the pty
                break
            if not data:
                break
            chunks.append(data)
        return proc.wait(timeout=10), b"".join(chunks).decode(errors="replace")
    finally:
        proc.kill() if proc.poll() is None else None
        os.close(master)


def _batch_file(tmp_path) -> str:
    repos = [make_repo(tmp_path / name) for name in ("one", "two")]
    path = tmp_path / "jobs.toml"
    path.write_text('name = "pair"\n' + "".join(
        f'[[task]]\nrepo = "{repo}"\nprompt = "echo hi from {repo.name}"\nruntime = "local"\n'
        for repo in repos))
    return str(path)


def test_on_a_terminal_batch_and_run_draw_a_bar(tmp_path):
    env = _env(tmp_path)
    code, shown = in_pty(_cli("batch", _batch_file(tmp_path)), env)
    assert code == 0, shown
    assert "snapshotting repos" in shown and BAR in shown and "2/2" in shown
    code, shown = in_pty(_cli("run"), env)
    assert code == 0, shown
    assert "tasks done" in shown and BAR in shown and "2/2" in shown
    assert shown.count(" succeeded ") == 2 and "queue empty: done" in shown


def test_through_a_pipe_the_same_commands_print_plain_lines(tmp_path):
    env = _env(tmp_path)
    batch = subprocess.run(_cli("batch", _batch_file(tmp_path), "--json"), env=env,
                           capture_output=True, text=True, timeout=120)
    assert batch.returncode == 0, batch.stderr
    ids = json.loads(batch.stdout)["ids"]
    assert [line.split()[:2] for line in batch.stderr.splitlines()] == [["snapshot", "of"]] * 2
    run = subprocess.run(_cli("run"), env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "queue empty: done\n"
    finished = [line.split()[1] for line in run.stderr.splitlines() if " succeeded " in line]
    assert sorted(finished) == sorted(ids)
    for text in (batch.stdout, batch.stderr, run.stdout, run.stderr):
        assert "\x1b[" not in text and BAR not in text


def test_image_build_steps_move_the_bar_and_other_output_is_the_status():
    lines: list[str] = []
    bar = Progress(lines.append)
    for line in ["Step 1/2 : FROM debian", " ---> abc", " ---> abc", "Step 2/2 : RUN x\x1b[2J",
                 "done"]:
        _show(bar, line)
    assert lines == ["Step 1/2 : FROM debian", " ---> abc", "Step 2/2 : RUN x\\x1b[2J", "done"]
