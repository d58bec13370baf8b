"""Task copies as reflink clones of a pristine template where the data dir's filesystem
allows (a btrfs loop filesystem here), the checkout path on ext4 or when a clone fails,
and the storage lifecycle of templates."""
from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

from agentdeck.engine.models import TaskState
from agentdeck.engine.workspace.capture import Manifest, record_checkout
from agentdeck.engine.workspace.gitcmd import Git
from agentdeck.engine.workspace.templates import supports_reflink
from agentdeck.engine.workspace.workspace import Workspace
from tests.engine.enginekit import git, make_repo, open_engine, wait_done

# Files bigger than btrfs inlines (about 2 KiB), so their extents can be shared.
FILES = {f"data/f{i}.txt": random.Random(i).randbytes(6000).hex() + "\n" for i in range(30)}
FILES |= {"README.md": "hello\n", "bin/run.sh": "#!/bin/sh\necho run\n"}


def _repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo", FILES)
    os.chmod(repo / "bin/run.sh", 0o755)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "exec")
    return repo


def _shared(path: Path) -> bool:
    """Whether ``path``'s blocks are shared with another file (a reflink)."""
    report = subprocess.run(["filefrag", "-v", str(path)], check=True, capture_output=True,
                            text=True).stdout
    return "shared" in report


def _templates(home: Path) -> list[Path]:
    return sorted(p for p in (home / "templates").glob("*/*") if not p.name.startswith("."))


def _status_in(copy: Path) -> tuple[str, bytes, bytes]:
    """``git status`` in the copy, and its index before and after (git rewrites it when
    it had to read files whose stat data did not match)."""
    before = (copy / ".git" / "index").read_bytes()
    status = git(copy, "status", "--porcelain")
    return status, before, (copy / ".git" / "index").read_bytes()


def test_on_btrfs_a_copy_is_a_clone_of_its_bases_template_with_a_fresh_index(tmp_path,
                                                                              btrfs_dir):
    repo = _repo(tmp_path)
    ws = Workspace(btrfs_dir / "home")
    base = ws.snapshot("t1", repo)
    copy = ws.prepare("t1", repo, base)
    assert supports_reflink(copy.parent)
    [template] = _templates(ws.home)
    assert template.name == git(repo, "rev-parse", "HEAD^{tree}")
    assert _shared(copy / "data/f3.txt") and _shared(template / "files/data/f3.txt")
    assert (copy / "data/f3.txt").read_text() == FILES["data/f3.txt"]
    assert os.stat(copy / "bin/run.sh").st_mode & 0o111
    status, before, after = _status_in(copy)
    assert status == "" and before == after, "the copy's index must match its files"
    listed = tmp_path / "listed-manifest"  # what the checkout path records, from ls-tree
    record_checkout(Git(git_dir=next((ws.home / "git").glob("*.git"))), base, copy, listed)
    assert Manifest.load(ws.home / "index" / "t1").files == Manifest.load(listed).files
    assert len(Manifest.load(listed).files) == len(FILES)
    assert git(copy, "log", "--format=%s") == f"agentdeck: base {base}"
    assert (copy / ".git/objects/info/alternates").is_file()
    assert not (copy / ".git/hooks").exists()
    ws.snapshot("t2", repo)
    second = ws.prepare("t2", repo, base, shared_objects=False)
    assert _templates(ws.home) == [template]  # the same tree reuses its template
    assert _shared(second / "data/f5.txt")
    assert git(second, "status", "--porcelain") == ""
    assert not (second / ".git/objects/info/alternates").exists()


async def test_a_task_in_a_cloned_copy_runs_and_its_diff_is_its_own(tmp_path, btrfs_dir):
    repo = _repo(tmp_path)
    engine = await open_engine(btrfs_dir / "home")
    try:
        first = await engine.submit(repo, "printf 'changed\\n' > data/f1.txt; rm data/f2.txt; "
                                          "echo new > added.txt")
        done = await wait_done(engine, first.id)
        diff = await engine.get_diff(first.id)
        other = await engine.submit(repo, "git status --porcelain > /tmp/st; "
                                          "test ! -s /tmp/st && echo CLEAN")
        second = await wait_done(engine, other.id)
        lines = [e.text for e in await engine.get_logs(other.id, limit=None)]
        second_diff = await engine.get_diff(other.id)
    finally:
        await engine.close()
    assert done.state == second.state == TaskState.SUCCEEDED, (done.error, second.error)
    assert sorted((f.path, f.status) for f in diff.files) == [
        ("added.txt", "added"), ("data/f1.txt", "modified"), ("data/f2.txt", "deleted")]
    assert _shared(Path(done.workdir) / "data/f3.txt")
    assert "CLEAN" in lines and second_diff.files == ()
    assert (Path(second.workdir) / "data/f1.txt").read_text() == FILES["data/f1.txt"]


def test_on_ext4_a_copy_is_checked_out_without_templates(tmp_path):
    repo = _repo(tmp_path)
    ws = Workspace(tmp_path / "home")
    base = ws.snapshot("t1", repo)
    copy = ws.prepare("t1", repo, base)
    assert not supports_reflink(copy.parent)
    assert _templates(ws.home) == [] and not _shared(copy / "data/f3.txt")
    status, before, after = _status_in(copy)
    assert status == "" and before == after


def test_a_clone_that_does_not_match_its_index_falls_back_to_a_checkout(tmp_path, btrfs_dir):
    repo = _repo(tmp_path)
    ws = Workspace(btrfs_dir / "home")
    base = ws.snapshot("t1", repo)
    ws.prepare("t1", repo, base)
    [template] = _templates(ws.home)
    (template / "files/data/f4.txt").unlink()  # a clone of it now lacks a file of the index
    ws.snapshot("t2", repo)
    copy = ws.prepare("t2", repo, base)
    assert (copy / "data/f4.txt").read_text() == FILES["data/f4.txt"]
    assert not _shared(copy / "data/f4.txt")
    assert git(copy, "status", "--porcelain") == ""


def test_a_template_is_counted_and_removed_once_no_task_starts_from_its_tree(tmp_path,
                                                                            btrfs_dir):
    repo = _repo(tmp_path)
    ws = Workspace(btrfs_dir / "home")
    base = ws.snapshot("t1", repo)
    ws.prepare("t1", repo, base)
    [template] = _templates(ws.home)
    with_template = ws.store_bytes(set())[str(repo)]
    ws.remove_unused_templates()
    assert template.is_dir()  # t1 still starts from it
    ws.discard("t1")
    ws.remove_unused_templates()
    assert not template.exists() and list((ws.home / "templates").glob("*/*")) == []
    assert ws.store_bytes(set())[str(repo)] < with_template - 100_000
