"""Capture and sealing against a hostile working copy, on real git (issue 9, findings 1,
5 and 6).

Finding 1: host git must never run with git metadata the agent wrote: a nested repository
at a submodule path whose config names a clean filter, a ``.git`` file pointing at another
repository of the user's. Finding 5: hard links are counted and stored once, and limits
hold before any object is written. Finding 6: a working copy left on the host runs none of
the agent's git config, hooks or attributes when the user runs git in it.
Each attack leaves a marker file (or a changed repository) when it works; each test also
shows the attack was live with real git before agentdeck met it.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from agentdeck.engine.errors import UnsafeChange
from agentdeck.engine.workspace import Workspace
from tests.engine.enginekit import git, make_repo, tree_hash
from tests.security.repokit import use_git_config


@pytest.fixture(autouse=True)
def user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's own global git config for this test (the machine's stays out)."""
    use_git_config(tmp_path, monkeypatch,
                   "[init]\n\tdefaultBranch = main\n[user]\n\tname = U\n\temail = u@x\n")


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "home")


def user_git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """git exactly as the user types it in a folder (their config, hooks on)."""
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def in_terminal(cwd: Path, command: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in a real pseudo-terminal (``script``: git pages only to one)."""
    return subprocess.run(["script", "-qec", command, "/dev/null"], cwd=cwd,
                          capture_output=True, text=True, check=False)


def private_dir(ws: Workspace) -> Path:
    (path,) = (ws.home / "git").glob("*.git")
    return path


def object_count(git_dir: Path) -> int:
    """Loose objects plus packed ones in a git dir."""
    counts = dict(line.split(": ") for line in git(git_dir, "count-objects", "-v").splitlines())
    return int(counts["count"]) + int(counts["in-pack"])


def plant_config_traps(git_dir: Path, marker: Path) -> None:
    """Config and hooks that run ``touch marker`` under every git command they can."""
    touch = f"touch {marker}"
    hooks = git_dir / "hooks"
    hooks.mkdir(exist_ok=True)
    for name in ("pre-commit", "post-checkout", "post-index-change", "reference-transaction"):
        (hooks / name).write_text(f"#!/bin/sh\n{touch}\n")
        (hooks / name).chmod(0o755)
    with open(git_dir / "config", "a") as config:
        config.write(f'[core]\n\thooksPath = {hooks}\n\tfsmonitor = "{touch}; false"\n'
                     f'\tpager = "{touch}; cat"\n'
                     f'[filter "evil"]\n\tclean = "{touch}; cat"\n\tsmudge = "{touch}; cat"\n'
                     f'[diff]\n\texternal = "{touch}"\n'
                     f'[diff "evil"]\n\ttextconv = "{touch}; cat"\n\tcommand = "{touch}"\n')


def hostile_repo(folder: Path, marker: Path, clone_of: Path | None = None) -> None:
    """A repository (a clone of ``clone_of``, else one commit of its own) whose config
    and attributes then run ``touch marker`` whenever git hashes or diffs its files."""
    if clone_of is not None:
        subprocess.run(["git", "clone", "-q", str(clone_of), str(folder)], check=True)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", str(folder)], check=True)
        (folder / "payload.txt").write_text("payload\n")
        user_git(folder, "add", "payload.txt")
        user_git(folder, "commit", "-qm", "the agent's commit")
    plant_config_traps(folder / ".git", marker)
    (folder / ".gitattributes").write_text("[attr]m filter=evil diff=evil\n* m\n")


def prove_live(folder: Path, marker: Path) -> None:
    """Show the trap works with plain git, then clear the marker."""
    (folder / "payload.txt").write_text("changed by the agent\n")
    user_git(folder, "add", "payload.txt")
    assert marker.exists(), "the planted filter did not run: the attack is not in place"
    marker.unlink()


# --- finding 1: nested repositories are never entered -----------------------------------

def test_a_repo_made_at_a_submodule_path_runs_nothing_and_cannot_be_accepted(
        ws: Workspace, tmp_path: Path) -> None:
    # The submodule's real commit: git then asks the nested repo (git status in it, its
    # config) whether it is dirty.
    lib = make_repo(tmp_path / "lib", {"payload.txt": "the library\n"})
    repo = make_repo(tmp_path / "repo")
    git(repo, "update-index", "--add", "--cacheinfo",
        f"160000,{git(lib, 'rev-parse', 'HEAD')},vendor/lib")
    git(repo, "commit", "-qm", "a submodule")
    marker = tmp_path / "pwned"
    base = ws.snapshot("t1", repo)
    workdir = ws.prepare("t1", repo, base)
    (workdir / "vendor" / "lib").rmdir()
    hostile_repo(workdir / "vendor" / "lib", marker, clone_of=lib)
    prove_live(workdir / "vendor" / "lib", marker)
    # Same size as what the index holds: git must hash it (through the filter) to compare.
    (workdir / "vendor" / "lib" / "payload.txt").write_text("changed by the AGENT\n")
    (workdir / "README.md").write_text("edited\n")

    result = ws.capture("t1", repo, base, workdir)

    assert not marker.exists()
    reasons = {f.path: f.unsafe for f in result.files}
    assert set(reasons) == {"README.md", "vendor/lib"}
    assert "gitlink" in (reasons["vendor/lib"] or "") and reasons["README.md"] is None
    before = tree_hash(repo, skip_git=False)
    with pytest.raises(UnsafeChange, match="vendor/lib"):
        ws.accept("t1", repo, base, result.commit, "m")
    assert tree_hash(repo, skip_git=False) == before and not marker.exists()


def test_an_untouched_submodule_path_keeps_its_entry(ws: Workspace, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},vendor/lib")
    git(repo, "commit", "-qm", "a submodule")
    base = ws.snapshot("t1", repo)
    workdir = ws.prepare("t1", repo, base)
    assert ws.capture("t1", repo, base, workdir).files == ()


def test_a_git_file_pointing_at_another_repo_leaves_that_repo_byte_for_byte(
        ws: Workspace, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    other = make_repo(tmp_path / "other", {"secret.txt": "other repo\n"})
    base = ws.snapshot("t1", repo)
    workdir = ws.prepare("t1", repo, base)
    (workdir / "sub").mkdir()
    (workdir / "sub" / ".git").write_text(f"gitdir: {other / '.git'}\n")
    (workdir / "sub" / "new.txt").write_text("written into the other repo's tree\n")
    # The top .git too: a file sending git to the other repo.
    os.rename(workdir / ".git", tmp_path / "inner-git-moved")
    (workdir / ".git").write_text(f"gitdir: {other / '.git'}\n")
    seen = user_git(workdir / "sub", "rev-parse", "--absolute-git-dir").stdout.strip()
    assert seen == str(other / ".git"), "git does not follow the planted .git file"
    before = tree_hash(other, skip_git=False)

    result = ws.capture("t1", repo, base, workdir)

    assert tree_hash(other, skip_git=False) == before
    assert [(f.path, "gitlink" in (f.unsafe or "")) for f in result.files] == [("sub", True)]
    # Sealed: the top .git is agentdeck's again, the nested one a dead end.
    top = user_git(workdir, "rev-parse", "--absolute-git-dir").stdout.strip()
    assert top == str(workdir / ".git")
    assert "invalid gitfile" in user_git(workdir / "sub", "status").stderr
    assert tree_hash(other, skip_git=False) == before


def test_a_folder_that_is_a_bare_repo_is_a_nested_repo(ws: Workspace, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    marker = tmp_path / "pwned"
    base = ws.snapshot("t1", repo)
    workdir = ws.prepare("t1", repo, base)
    subprocess.run(["git", "init", "-q", "--bare", str(workdir / "tools")], check=True)
    with open(workdir / "tools" / "config", "a") as config:
        config.write(f'[core]\n\tpager = "touch {marker}; cat"\n')
    in_terminal(workdir / "tools", "git branch --list")
    assert marker.exists(), "git run in the folder does not use its config"
    marker.unlink()

    result = ws.capture("t1", repo, base, workdir)

    assert result.unsafe == ("tools",)
    assert "invalid gitfile" in in_terminal(workdir / "tools", "git branch --list").stdout
    assert not marker.exists()


# --- finding 6: a kept working copy is safe to open -------------------------------------

def _trapped_copy(ws: Workspace, tmp_path: Path) -> tuple[Path, Path, str, Path]:
    """A task's copy whose inner .git runs a command (touching the marker) in git."""
    repo = make_repo(tmp_path / "repo")
    marker = tmp_path / "pwned"
    base = ws.snapshot("t1", repo)
    workdir = ws.prepare("t1", repo, base)
    plant_config_traps(workdir / ".git", marker)
    return repo, marker, base, workdir


def test_git_in_a_kept_copy_runs_none_of_the_agents_settings(ws: Workspace,
                                                           tmp_path: Path) -> None:
    repo, marker, base, workdir = _trapped_copy(ws, tmp_path)
    (workdir / ".gitattributes").write_text("[attr]m filter=evil diff=evil\n* m\n")
    (workdir / "README.md").write_text("edited by the agent\n")
    hostile_repo(workdir / "nested", marker)
    prove_live(workdir / "nested", marker)
    user_git(workdir, "status")
    assert marker.exists(), "the planted fsmonitor did not run: the attack is not in place"
    marker.unlink()

    ws.capture("t1", repo, base, workdir)

    for command in ("git status", "git diff", "git diff HEAD", "git log -p", "git add -A",
                    "git commit -qm 'the user commits in the copy'"):
        proc = in_terminal(workdir, command)
        assert proc.returncode == 0, proc.stdout
        assert not marker.exists(), f"{command} ran the agent's settings"
    assert "README.md" in user_git(workdir, "show", "--stat", "HEAD").stdout
    for args in (("status",), ("log", "-p"), ("diff",)):
        proc = user_git(workdir / "nested", *args)
        assert "invalid gitfile" in proc.stderr and not marker.exists()


def test_seal_on_its_own_neutralizes_a_copy_kept_without_capture(ws: Workspace,
                                                                tmp_path: Path) -> None:
    _repo, marker, _base, workdir = _trapped_copy(ws, tmp_path)
    os.symlink(tmp_path / "victim", workdir / ".git" / "COMMIT_EDITMSG")
    (workdir / "README.md").write_text("edited\n")

    ws.seal("t1")

    user_git(workdir, "commit", "-qam", "by the user")
    assert not marker.exists() and not (tmp_path / "victim").exists()
    assert (workdir / ".git" / "config").read_text().count("fsmonitor = false") == 1


# --- finding 5 and limits: hard links, caps before writing ------------------------------

def test_a_hard_link_bomb_is_counted_and_stored_once(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "home", max_bytes=6 << 20)
    repo = make_repo(tmp_path / "repo")
    base = ws.snapshot("t1", repo)
    workdir = ws.prepare("t1", repo, base)
    (workdir / "bomb").mkdir()
    (workdir / "bomb" / "big").write_bytes(os.urandom(4 << 20))
    for i in range(2000):
        os.link(workdir / "bomb" / "big", workdir / "bomb" / f"link{i}")
    assert os.stat(workdir / "bomb" / "big").st_nlink == 2001
    objects = object_count(private_dir(ws))

    result = ws.capture("t1", repo, base, workdir)

    assert len(result.files) == 2001
    assert len(set(git(private_dir(ws), "ls-tree", "-r", "--format=%(objectname)",
                       result.commit, "bomb").split())) == 1
    # One blob, plus the trees and the commit.
    assert object_count(private_dir(ws)) - objects == 4
    packed = sum(f.stat().st_size for f in (private_dir(ws) / "objects").rglob("*")
                 if f.is_file())
    assert packed < 12 << 20


@pytest.mark.parametrize("limit, words", [({"max_files": 3}, "more than 3 files"),
                                          ({"max_bytes": 5000}, "more than 4.9 KiB")])
def test_limits_refuse_before_any_object_is_written(tmp_path: Path, limit: dict[str, int],
                                                    words: str) -> None:
    ws = Workspace(tmp_path / "home", **limit)
    repo = make_repo(tmp_path / "repo")
    base = ws.snapshot("t1", repo)
    workdir = ws.prepare("t1", repo, base)
    for i in range(4):
        (workdir / f"f{i}.txt").write_text(f"{i}" * 3000)
    objects = object_count(private_dir(ws))
    with pytest.raises(UnsafeChange, match=words):
        ws.capture("t1", repo, base, workdir)
    assert object_count(private_dir(ws)) == objects
    assert "result" not in git(private_dir(ws), "for-each-ref")


# --- the walk: links, ignored folders, odd files ----------------------------------------

def test_the_walk_never_follows_links_and_honours_ignore_rules(ws: Workspace,
                                                              tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"README.md": "hi\n", ".gitignore": "build/\n*.o\n"})
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not the agent's\n")
    base = ws.snapshot("t1", repo)
    workdir = ws.prepare("t1", repo, base)
    os.symlink(outside, workdir / "linked-dir")
    (workdir / "build").mkdir()
    (workdir / "build" / "out.bin").write_text("ignored\n")
    (workdir / "x.o").write_text("ignored\n")
    (workdir / "src").mkdir()
    (workdir / "src" / ".gitignore").write_text("local-only\n")
    (workdir / "src" / "local-only").write_text("ignored by a nested .gitignore\n")
    os.symlink(outside / "secret.txt", workdir / "src" / ".gitignore-link")
    os.mkfifo(workdir / "src" / "fifo")
    (workdir / "deep").mkdir()
    os.mkfifo(workdir / "deep" / ".gitignore")  # would hang git reading it
    (workdir / "deep" / "kept.txt").write_text("kept\n")

    result = ws.capture("t1", repo, base, workdir)

    assert sorted(f.path for f in result.files) == [
        "deep/kept.txt", "linked-dir", "src/.gitignore", "src/.gitignore-link"]
    listing = git(private_dir(ws), "ls-tree", "-r", result.commit)
    assert "secret" not in listing and f"120000 blob" in listing


def test_a_follow_up_capture_reads_only_what_changed(ws: Workspace, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    base = ws.snapshot("t1", repo)
    workdir = ws.prepare("t1", repo, base)
    (workdir / "README.md").write_text("first\n")
    first = ws.capture("t1", repo, base, workdir)
    (workdir / "src" / "app.py").write_text("x = 2\n")
    second = ws.capture("t1", repo, base, workdir)
    assert [f.path for f in first.files] == ["README.md"]
    assert [f.path for f in second.files] == ["README.md", "src/app.py"]
    assert git(private_dir(ws), "show", f"{second.commit}:README.md") == "first"
