"""Review flags on a hostile change (issue 9, finding 12): git's instruction files and
hostile file names are flagged, control characters in a name are refused at accept, and
every name is shown escaped."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentdeck.engine.errors import UnsafeChange
from agentdeck.engine.workspace import Workspace
from agentdeck.engine.workspace.names import escape_name, name_warning
from tests.engine.enginekit import make_repo
from tests.security.repokit import fingerprint

pytestmark = pytest.mark.usefixtures("user_config")

NEWLINE = "evil\n/home/user/.ssh/id_rsa"
ESCAPE = "\x1b]52;c;cm0gLXJmIH4K\x07.txt"  # OSC 52: would write the user's clipboard
NOT_UTF8 = os.fsdecode(b"caf\xe9.txt")       # latin-1, not UTF-8
BIDI = "invoice\u202etxt.exe"               # shows as "invoiceexe.txt"


@pytest.fixture
def change(tmp_path: Path) -> tuple[Workspace, Path, str, str]:
    """A captured change writing git's instruction files and hostile names."""
    repo = make_repo(tmp_path / "repo", {"README.md": "hi\n"})
    ws = Workspace(tmp_path / "home")
    base = ws.snapshot("t1", repo)
    workdir = ws.prepare("t1", repo, base)
    for name in (".gitattributes", ".gitmodules", "sub/.gitattributes", NEWLINE, ESCAPE,
                 NOT_UTF8, "-rf", "docs/--help", BIDI, "plain.txt"):
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text("x\n")
    return ws, repo, base, ws.capture("t1", repo, base, workdir).commit


def test_instruction_files_and_hostile_names_are_flagged(change) -> None:
    ws, repo, base, commit = change
    files = {f.path: f for f in ws.diff_result(repo, base, commit).files}
    assert NOT_UTF8 in files and os.fsencode(NOT_UTF8) == b"caf\xe9.txt"
    warned = {p: f.warning for p, f in files.items() if f.warning}
    assert set(warned) == {".gitattributes", ".gitmodules", "sub/.gitattributes", NOT_UTF8,
                           "-rf", "docs/--help", BIDI}
    assert "attributes" in warned["sub/.gitattributes"] and "submodule" in warned[".gitmodules"]
    assert "not valid UTF-8" in warned[NOT_UTF8] and "'-'" in warned["-rf"]
    assert "direction" in warned[BIDI]
    assert {p for p, f in files.items() if f.unsafe} == {NEWLINE, ESCAPE}
    assert "control characters (\\n)" in (files[NEWLINE].unsafe or "")
    assert files["plain.txt"].warning is None and files["plain.txt"].unsafe is None


def test_control_characters_in_a_name_are_refused_and_named_escaped(change) -> None:
    ws, repo, base, commit = change
    before = fingerprint(repo)
    with pytest.raises(UnsafeChange) as info:
        ws.accept("t1", repo, base, commit, "m")
    message = str(info.value)
    assert "evil\\n/home/user/.ssh/id_rsa" in message and "\\x1b]52" in message
    assert not any(c in message for c in "\n\x1b\x07")
    assert fingerprint(repo) == before
    ws.accept("t1", repo, base, commit, "m", exclude=[NEWLINE, ESCAPE])
    assert b"caf\xe9.txt" in os.listdir(os.fsencode(repo))  # flagged, applied byte-exact
    assert (repo / "-rf").exists() and (repo / BIDI).exists()


@pytest.mark.parametrize("name, shown", [
    ("a\nb", "a\\nb"), ("\x1b[2J", "\\x1b[2J"), (NOT_UTF8, "caf\\xe9.txt"),
    (BIDI, "invoice\\u202etxt.exe"), ("tab\there", "tab\\there"), ("back\\slash", "back\\\\slash"),
    ("\x9b31m", "\\x9b31m"), ("ü/ok.txt", "ü/ok.txt"), ("nbsp\u00a0", "nbsp\\xa0"),
])
def test_names_are_shown_escaped(name: str, shown: str) -> None:
    assert escape_name(name) == shown and escape_name(name).isprintable()


def test_a_plain_name_is_not_flagged() -> None:
    assert name_warning("src/app-main.py") is None and name_warning("ü.txt") is None
