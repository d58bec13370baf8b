"""How a task copy's inner repo gets its objects, on real repos: borrowed through
alternates (nothing copied) or packed for a runtime that moves the copy elsewhere; and a
sealed copy still works as a git repository."""
from __future__ import annotations

import random
import subprocess
from pathlib import Path

from agentdeck.engine.workspace.space import tree_bytes
from agentdeck.engine.workspace.workspace import Workspace
from tests.engine.enginekit import git, make_repo

BIG = {f"data/f{i}.txt": f"{i} " + random.Random(i).randbytes(8000).hex() for i in range(40)}


def _git_ok(copy: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(copy), *args], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent",
                               "GIT_CONFIG_NOSYSTEM": "1"})
    assert done.returncode == 0 and not done.stderr, done.stderr
    return done.stdout


def test_a_copy_borrows_the_objects_instead_of_copying_them(tmp_path):
    repo = make_repo(tmp_path / "repo", BIG)
    ws = Workspace(tmp_path / "home")
    base = ws.snapshot("t1", repo)
    shared = ws.prepare("t1", repo, base)
    ws.snapshot("t2", repo)
    packed = ws.prepare("t2", repo, base, shared_objects=False)
    for copy in (shared, packed):
        assert _git_ok(copy, "status", "--porcelain") == ""
        assert _git_ok(copy, "show", "HEAD:data/f3.txt") == BIG["data/f3.txt"]
    assert (shared / ".git/objects/info/alternates").exists()
    assert not (packed / ".git/objects/info/alternates").exists()
    assert tree_bytes(shared / ".git" / "objects") * 4 < tree_bytes(packed / ".git" / "objects")
    assert {p.resolve() for p in ws.object_dirs(repo)} >= {(repo / ".git/objects").resolve()}


def test_a_sealed_copy_keeps_only_agentdecks_alternates(tmp_path):
    repo = make_repo(tmp_path / "repo", BIG)
    ws = Workspace(tmp_path / "home")
    base = ws.snapshot("t1", repo)
    copy = ws.prepare("t1", repo, base)
    elsewhere = make_repo(tmp_path / "other")
    (copy / ".git/objects/info/alternates").write_text(f"{elsewhere}/.git/objects\n")
    (copy / "data/f1.txt").write_text("changed\n")
    ws.capture("t1", repo, base, copy)
    line = (copy / ".git/objects/info/alternates").read_text()
    assert str(elsewhere) not in line and line.strip().endswith("objects")
    assert _git_ok(copy, "diff", "--stat").count("f1.txt") == 1
    assert git(repo, "status", "--porcelain") == ""
