"""Hunk-level accept through the engine, checked against ``git apply --index`` of the
same hunks in a clone: the trees must be identical, byte for byte."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.models import ReviewState
from tests.engine.enginekit import git, make_repo, repo_state, run_succeeded

# 40 lines: a CRLF line, bytes that are not UTF-8, no newline at the end.
BASE = b"".join(b"line %d\n" % n for n in range(1, 41)).replace(b"line 2\n", b"line 2\r\n") \
    .replace(b"line 3\n", b"line \xff3\n").replace(b"line 39\n", b"line \xfe39\n")[:-1]
# Three hunks: line 3 replaced, two lines added after line 20, the last line replaced.
EDIT = ("sed -i -e '3s/.*/three changed/' -e '20a extra one' -e '20a extra two' "
        "-e '$s/.*/forty changed/' big.txt")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The default repo with big.txt (`BASE`) and a binary file committed."""
    repo = make_repo(tmp_path / "repo")
    (repo / "big.txt").write_bytes(BASE)
    (repo / "bin.dat").write_bytes(b"\0\1\2binary")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "big file")
    return repo


def _raw_patch(home: Path, task) -> bytes:
    """The task's diff as bytes, straight from git in the engine's private dir."""
    (private,) = (home / "git").glob("*.git")
    return subprocess.run(["git", f"--git-dir={private}", "diff", "--binary",
                           task.base_commit, task.result_commit], check=True,
                          capture_output=True).stdout


def _git_apply_tree(repo: Path, base: str, patch: bytes, keep: list[int]) -> str:
    """The tree ``git apply --index`` + ``git commit`` of hunks ``keep`` (1-based, original
    headers, cut by lines starting with "@@") make in a clone of ``repo`` at ``base``."""
    header, *hunks = patch.replace(b"\n@@ ", b"\n\0@@ ").split(b"\0")
    chosen = header + b"".join(hunks[n - 1] for n in keep)
    copy = repo.parent / "copy"
    subprocess.run(["git", "clone", "-q", str(repo), str(copy)], check=True)
    git(copy, "checkout", "-q", base)
    subprocess.run(["git", "-C", str(copy), "apply", "--index", "-"], input=chosen, check=True)
    git(copy, "commit", "-qm", "reference")
    return git(copy, "rev-parse", "HEAD^{tree}")


@pytest.mark.parametrize(("selection", "kept"), [
    ({"exclude": ["big.txt#2"]}, [1, 3]),
    ({"only": ["big.txt#1", "big.txt#3"]}, [1, 3]),
    ({"only": ["big.txt#2"]}, [2]),
    ({"only": ["big.txt"], "exclude": ["big.txt#1"]}, [2, 3]),
])
async def test_accept_lands_exactly_the_chosen_hunks_as_git_apply_does(
        engine, repo, home, selection, kept):
    task = await run_succeeded(engine, repo, EDIT)
    (file,) = [f for f in await engine.get_hunks(task.id) if f.change.path == "big.txt"]
    assert [(h.number, h.added, h.removed) for h in file.hunks] == \
        [(1, 1, 1), (2, 2, 0), (3, 1, 1)]
    patch = _raw_patch(home, task)
    base = git(repo, "rev-parse", "HEAD")
    sha = (await engine.accept(task.id, **selection)).commit
    assert git(repo, "rev-parse", f"{sha}^") == base  # one commit
    assert git(repo, "rev-parse", f"{sha}^{{tree}}") == \
        _git_apply_tree(repo, base, patch, kept)
    assert git(repo, "status", "--porcelain") == ""


async def test_binary_new_and_renamed_files_are_whole_units(engine, repo):
    task = await run_succeeded(engine, repo, f"{EDIT}; printf 'new\\0bytes' > bin.dat; "
                                         "echo fresh > new.txt; mv src/app.py src/main.py")
    units = {f.change.path: f.units for f in await engine.get_hunks(task.id)}
    assert units == {"big.txt": 3, "bin.dat": 1, "new.txt": 1, "src/main.py": 1}
    with pytest.raises(InvalidInput, match=r"bin.dat#2: bin.dat has 1 hunk in this diff"):
        await engine.accept(task.id, only=["bin.dat#2"])
    sha = (await engine.accept(task.id, only=["bin.dat#1", "src/app.py", "big.txt#3"])).commit
    changed = git(repo, "diff-tree", "-r", "-M", "--name-status", f"{sha}^", sha)
    assert changed.splitlines() == ["M\tbig.txt", "M\tbin.dat", "R100\tsrc/app.py\tsrc/main.py"]
    assert (repo / "bin.dat").read_bytes() == b"new\0bytes"
    assert not (repo / "new.txt").exists()
    assert (repo / "big.txt").read_bytes() == BASE.replace(b"line 40", b"forty changed")


@pytest.mark.parametrize(("selection", "message"), [
    ({"only": ["nope.txt"]}, r"nope.txt is not in this diff: name a changed file"),
    ({"exclude": ["big.txt#4"]}, r"big.txt#4: big.txt has 3 hunks in this diff \(#1 to #3\)"),
    ({"only": ["big.txt#0"]}, r"big.txt#0: big.txt has 3 hunks"),
    ({"only": ["big.txt#one"]}, r"big.txt#one is not in this diff"),
    ({"exclude": ["big.txt#1", "big.txt#2", "big.txt#3"]}, r"nothing left to accept"),
])
async def test_a_bad_selector_is_refused_and_nothing_changes(engine, repo, selection, message):
    task = await run_succeeded(engine, repo, EDIT)
    before = repo_state(repo)
    with pytest.raises(InvalidInput, match=message):
        await engine.accept(task.id, **selection)
    assert repo_state(repo) == before
    assert (await engine.get_task(task.id)).review == ReviewState.PENDING


async def test_request_changes_quotes_the_excluded_hunks(engine, repo):
    task = await run_succeeded(engine, repo, EDIT)
    with pytest.raises(InvalidInput, match="big.txt#9: big.txt has 3 hunks"):
        await engine.request_changes(task.id, "true", exclude=["big.txt#9"])
    sent = await engine.request_changes(task.id, "true", exclude=["big.txt#2"])
    assert "# - big.txt#2\n#     > @@ -18,6 +18,8 @@" in sent.follow_up
    assert "#     > +extra one\n#     > +extra two\n" in sent.follow_up
