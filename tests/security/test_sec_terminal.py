"""Finding 8: an agent's bytes never act on the user's terminal through the CLI.

Each test runs the real CLI on a real pseudo-terminal (util-linux ``script``) against a
task whose agent printed (or wrote into a file) terminal attacks: OSC 52 (sets the
clipboard to a marker), a cursor move plus line erase that hides the line before it, a C1
CSI, a carriage return overwrite and a bidi override. The typescript, what the terminal
received, must hold none of those characters, but must hold their escaped form: that
tells "blocked" from "never printed". ``--raw`` on the same task puts the real OSC 52
sequence on the terminal, so the check would see the attack if escaping were missing.
"""
from __future__ import annotations

import base64
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.enginekit import make_repo

MARKER = "agentdeck-clipboard-marker-7f3a"
OSC52 = f"\x1b]52;c;{base64.b64encode(MARKER.encode()).decode()}\x07"
#: The agent's script: every line carries a different attack.
ATTACK = (
    f"printf 'before\\n\\033]52;c;{base64.b64encode(MARKER.encode()).decode()}\\007\\n'\n"
    "printf 'secret line\\n\\033[1A\\033[2Kcover\\n'\n"
    "printf 'csi \\302\\233 2J c1\\n'\n"
    "printf 'bidi \\342\\200\\256 reversed\\n'\n"
    "printf 'shown\\rhidden by cr\\n'\n"
    f"printf 'doc \\033]52;c;{base64.b64encode(MARKER.encode()).decode()}\\007 end\\n' > notes.txt\n"
)
#: Characters a terminal acts on; the pty itself turns "\n" into "\r\n" (removed first).
FORBIDDEN = ("\x1b", "\x07", "\u009b", "\u202e", "\r")


@pytest.fixture
def cli(tmp_path):
    env = {**os.environ, "AGENTDECK_HOME": str(tmp_path / "home")}

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "agentdeck.cli.main", *args], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def on_tty(*args: str) -> str:
        """What a real terminal received from ``agentdeck ARGS`` (stdout and stderr)."""
        typescript = tmp_path / "typescript"
        command = shlex.join([sys.executable, "-m", "agentdeck.cli.main", *args])
        done = subprocess.run(["script", "-qec", command, str(typescript)], env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return typescript.read_bytes().decode("utf-8", "replace").replace("\r\n", "\n")

    run.on_tty = on_tty
    run.env = env
    return run


@pytest.fixture
def hostile_task(cli, tmp_path) -> str:
    repo = make_repo(tmp_path / "repo")
    task_id = cli("submit", str(repo), ATTACK, "--runtime", "local",
                  "--title", "t\x1b]52;c;QQ==\x07\nforged-row").strip()
    cli("run")
    return task_id


def assert_inert(received: str) -> None:
    for char in FORBIDDEN:
        assert char not in received, f"{char!r} reached the terminal"


def test_logs_on_a_terminal_show_the_agents_escapes_escaped(cli, hostile_task):
    received = cli.on_tty("logs", hostile_task)
    assert_inert(received)
    assert "\\x1b]52;c;" + OSC52[7:-1] + "\\x07" in received       # the attack was printed
    assert "secret line\n\\x1b[1A\\x1b[2Kcover" in received
    assert "csi \\x9b 2J c1" in received and "bidi \\u202e reversed" in received
    assert "shown\\rhidden by cr" in received
    assert "shown escaped" in received and "--raw" in received    # the note on stderr


def test_raw_logs_put_the_real_sequence_on_the_terminal(cli, hostile_task):
    received = cli.on_tty("logs", hostile_task, "--raw")
    assert OSC52 in received  # what the default output protects from
    assert "shown escaped" not in received


def test_diff_and_show_escape_file_content_and_title(cli, hostile_task):
    diff = cli.on_tty("diff", hostile_task)
    assert_inert(diff)
    assert "+doc \\x1b]52;c;" in diff
    assert OSC52 in cli.on_tty("diff", hostile_task, "--raw")
    shown = cli.on_tty("show", hostile_task)
    assert_inert(shown)
    assert "t\\x1b]52;c;QQ==\\x07" in shown


def test_list_keeps_a_hostile_title_on_its_own_row(cli, hostile_task):
    listed = cli.on_tty("list")
    assert_inert(listed)
    assert "t\\x1b]52;c;QQ==\\x07\\nforged-row" in listed
    assert not any(line.startswith("forged-row") for line in listed.splitlines())


def test_json_output_is_valid_and_inert(cli, hostile_task):
    import json
    shown = cli.on_tty("show", hostile_task, "--json")
    assert_inert(shown)
    body = shown[shown.index("{"):shown.rindex("}") + 1]
    assert json.loads(body)["title"] == "t\x1b]52;c;QQ==\x07\nforged-row"


def test_logs_follow_escapes_lines_of_a_running_task(cli, tmp_path):
    repo = make_repo(tmp_path / "repo")
    task_id = cli("submit", str(repo), "sleep 1\n" + ATTACK, "--runtime", "local").strip()
    runner = subprocess.Popen([sys.executable, "-m", "agentdeck.cli.main", "run"], env=cli.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        received = cli.on_tty("logs", task_id, "-f")
    finally:
        assert runner.wait(timeout=120) == 0
    assert_inert(received)
    assert "\\x1b]52;c;" + OSC52[7:-1] + "\\x07" in received


def test_pipes_are_escaped_too(cli, hostile_task, tmp_path):
    piped = subprocess.run(f"{shlex.quote(sys.executable)} -m agentdeck.cli.main logs {hostile_task} | cat",
                           shell=True, env=cli.env, capture_output=True, timeout=120)
    assert b"\x1b" not in piped.stdout and b"\\x1b]52;c;" in piped.stdout
    assert b"shown escaped" in piped.stderr
    exact = subprocess.run([sys.executable, "-m", "agentdeck.cli.main", "diff", hostile_task, "--raw"],
                           env=cli.env, capture_output=True, timeout=120).stdout
    repo = Path(tmp_path / "repo")
    applied = subprocess.run(["git", "-C", str(repo), "apply", "-"], input=exact,
                             capture_output=True)
    assert applied.returncode == 0, applied.stderr
    assert (repo / "notes.txt").read_text() == f"doc {OSC52} end\n"
