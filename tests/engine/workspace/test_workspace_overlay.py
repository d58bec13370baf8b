"""Overlay capture, base trees as tars and base ignore rules — on real git repos.

A Docker task from a base layer hands back only its changed files and the removed paths;
the capture must give the same tree a full working copy with the same edits would.
"""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from agentdeck.engine.errors import UnsafeChange
from agentdeck.engine.workspace import Workspace
from agentdeck.engine.workspace.gitcmd import Git
from tests.engine.enginekit import git, make_repo

FILES = {"README.md": "hello\n", "src/a.py": "a\n", "src/b.py": "b\n", "lib/x/y.txt": "y\n",
         "lib/z.txt": "z\n", "tool": "t\n", ".gitignore": "node_modules/\n*.log\n"}


@pytest.fixture
def setup(tmp_path):
    repo = make_repo(tmp_path / "repo", FILES)
    (repo / "keep.log").write_text("tracked though ignored\n")
    git(repo, "add", "-f", "keep.log")
    git(repo, "commit", "-q", "-m", "a tracked file the rules ignore")
    ws = Workspace(tmp_path / "home")
    base = ws.snapshot("t1", repo)
    return ws, repo, base


def _paths(ws: Workspace, repo: Path, base: str, commit: str) -> dict[str, str]:
    return {f.path: f.status for f in ws.diff_result(repo, base, commit).files}


def test_the_overlay_on_the_base_gives_the_changed_tree(setup):
    ws, repo, base = setup
    changes = ws.prepare_overlay("t1")
    (changes / "src").mkdir()
    (changes / "src" / "a.py").write_text("a changed\n")
    (changes / "new.txt").write_text("new\n")
    (changes / "tool").mkdir()  # a folder where a file was
    (changes / "tool" / "inside").write_text("i\n")
    (changes / "lib").write_text("a file where a folder was\n")
    diff = ws.capture("t1", repo, base, changes, removed=["README.md"])
    assert _paths(ws, repo, base, diff.commit) == {
        # A folder where a file was is a gitlink, as in a full copy's capture.
        "src/a.py": "modified", "new.txt": "added", "tool": "type_changed",
        "lib/x/y.txt": "deleted", "lib/z.txt": "deleted",
        "lib": "added", "README.md": "deleted"}
    assert "src/b.py" not in ws.patch(repo, base, diff.commit)  # untouched base entries stay


def test_a_removed_folder_drops_everything_below_it(setup):
    ws, repo, base = setup
    changes = ws.prepare_overlay("t1")
    diff = ws.capture("t1", repo, base, changes, removed=["lib"])
    assert _paths(ws, repo, base, diff.commit) == {"lib/x/y.txt": "deleted",
                                                  "lib/z.txt": "deleted"}


def test_the_limits_count_the_removed_paths_too(setup):
    ws, repo, base = setup
    ws.max_files = 2
    changes = ws.prepare_overlay("t1")
    (changes / "new.txt").write_text("new\n")
    with pytest.raises(UnsafeChange, match="more than 2 files"):
        ws.capture("t1", repo, base, changes, removed=["lib", "README.md"])


def test_the_base_tar_holds_the_commit_as_committed_owned_by_the_sandbox_user(setup, tmp_path):
    ws, repo, base = setup
    (repo / ".gitattributes").write_text("README.md export-ignore\nsrc/a.py export-subst\n")
    out = io.BytesIO()
    ws.tree_tar(repo, base, out)
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        members = {m.name: m for m in tar}
        assert {m.uid for m in members.values()} == {1000}
        assert tar.extractfile(members["README.md"]).read() == b"hello\n"
        assert tar.extractfile(members["lib/x/y.txt"]).read() == b"y\n"
        assert members["lib/x"].isdir() and ".git/HEAD" in members
        assert not any(name.startswith(".git/hooks/") for name in members)


def test_the_base_rules_ignore_untracked_paths_only(setup):
    ws, repo, base = setup
    with ws.base_rules(repo, base) as rules:
        assert rules.ignored("", [("node_modules", True), ("keep.log", False),
                                  ("new.log", False), ("src", True)]) == {"node_modules",
                                                                          "new.log"}
        assert rules.tracked("lib/x") and not rules.tracked("node_modules")


def test_the_base_rules_read_only_the_folders_asked_about(tmp_path, monkeypatch):
    # A collect of one change in src/ must not list the whole base (50 000 entries took
    # 1 s on the first task of a new base): only the folders the walk visits.
    files = {**FILES, **{f"big/d{i}/f{j}.txt": "x\n" for i in range(20) for j in range(10)},
             "src/.gitignore": "*.tmp\n"}
    repo = make_repo(tmp_path / "repo", files)
    ws = Workspace(tmp_path / "home")
    base = ws.snapshot("t1", repo)
    listed: list[tuple[str, ...]] = []
    real = Git.iter_z

    def spying(self: Git, *args: str):
        listed.append(args)
        return real(self, *args)

    monkeypatch.setattr(Git, "iter_z", spying)
    with ws.base_rules(repo, base) as rules:
        assert rules.ignored("src/", [("a.py", False), ("n.tmp", False), ("n.log", False),
                                      ("new.py", False)]) == {"n.tmp", "n.log"}
        assert rules.tracked("src/a.py") and not rules.tracked("src/new.py")
    assert [args[-1] for args in listed if args[0] == "ls-tree"] == [f"{base}:", f"{base}:src/"]
