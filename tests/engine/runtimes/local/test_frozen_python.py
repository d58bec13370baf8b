"""The frozen build's executable standing in for ``python`` (the local runtime's helpers).

`make dist-test` runs a local task from the real frozen build; these check the argument
handling without building one.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agentdeck.engine.runtimes.local.frozen import MARKER, python_command, run_as_python


@pytest.fixture(autouse=True)
def _keep_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # run_as_python sets it, as python does


def test_code_runs_as_python_c_would(capsys: pytest.CaptureFixture[str]) -> None:
    code = "import sys; print(__name__, sys.argv); sys.exit(3)"
    assert run_as_python(["agentdeck", MARKER, "-I", "-c", code, "/root", "run-dir"]) == 3
    assert capsys.readouterr().out == "__main__ ['-c', '/root', 'run-dir']\n"


def test_file_runs_as_python_file_would(tmp_path: Path) -> None:
    script, out = tmp_path / "forward.py", tmp_path / "out"
    script.write_text(f"import sys; open({str(out)!r}, 'w').write(repr(sys.argv) + __name__)")
    assert run_as_python(["agentdeck", MARKER, "-I", "-S", str(script), "8080", "--"]) == 0
    assert out.read_text() == repr([str(script), "8080", "--"]) + "__main__"


def test_exit_message_is_printed_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_as_python(["agentdeck", MARKER, "-c", "raise SystemExit('no request')"]) == 1
    assert capsys.readouterr().err == "no request\n"


def test_a_normal_start_is_left_alone() -> None:
    assert run_as_python(["agentdeck", "list"]) is None
    assert run_as_python(["agentdeck"]) is None


def test_python_command_unfrozen_is_the_interpreter() -> None:
    assert python_command(sys.executable) == [sys.executable]


def test_python_command_frozen_names_the_marker(monkeypatch: pytest.MonkeyPatch) -> None:
    """sys.frozen is set by hand: a unit test cannot run inside a PyInstaller build."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert python_command(sys.executable) == [sys.executable, MARKER]
    assert python_command("/usr/bin/python3-other") == ["/usr/bin/python3-other"]
