"""A hostile agent on the local runtime whose copy borrows the user's objects (alternates):
it reads them, but writes into neither the user's object store, the user's .git, nor
agentdeck's private git dir; and `gc` never follows a link the agent left in its copy.
Each attack leaves a marker when it works, and each test checks it really ran."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agentdeck.engine.models import TaskState
from tests.engine.enginekit import git, make_repo, open_engine, wait_done
from tests.security.repokit import fingerprint

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="bubblewrap is installed by make test (scripts/system-deps.sh)")

ATTACK = """
git log --oneline -1 && echo READ-OK
for dir in {user_objects} {private_objects}; do
  touch "$dir/pwned" 2>/dev/null && touch {marker}
  for f in $(find "$dir" -type f 2>/dev/null); do
    chmod u+w "$f" 2>/dev/null; echo junk >> "$f" 2>/dev/null && touch {marker}
  done
  echo "attacked $dir"
done
echo '[core]' >> {user_git}/config 2>/dev/null && touch {marker}
mkdir -p {user_git}/hooks 2>/dev/null && echo x > {user_git}/hooks/post-commit 2>/dev/null && touch {marker}
echo agent > mine.txt && git add mine.txt && git -c user.name=a -c user.email=a@b commit -qm mine && echo COMMIT-OK
"""


async def test_the_agent_cannot_write_the_objects_its_copy_borrows(tmp_path):
    repo = make_repo(tmp_path / "repo")
    marker = tmp_path / "PWNED"
    home = tmp_path / "home"
    engine = await open_engine(home)
    try:
        task = await engine.submit(repo, "true")
        await wait_done(engine, task.id)
        private = next((home / "git").glob("*.git"))
        before = fingerprint(repo / ".git"), fingerprint(private / "objects")
        script = ATTACK.format(user_objects=repo / ".git" / "objects",
                               private_objects=private / "objects", user_git=repo / ".git",
                               marker=marker)
        task = await engine.submit(repo, script)
        done = await wait_done(engine, task.id, timeout=60)
        lines = [e.text for e in await engine.get_logs(task.id, limit=None)]
    finally:
        await engine.close()
    assert done.state == TaskState.SUCCEEDED, done.error
    assert "READ-OK" in lines and "COMMIT-OK" in lines, lines  # its git works on the borrowed objects
    assert any(line.startswith("attacked") for line in lines), lines
    assert not marker.exists(), "the agent wrote into a borrowed object store or the user's .git"
    assert fingerprint(repo / ".git") == before[0]
    after = fingerprint(private / "objects")  # the capture added the result's objects
    assert "pwned" not in after and {k: after.get(k) for k in before[1]} == before[1]
    assert (Path(done.workdir) / ".git" / "objects" / "info" / "alternates").read_text() == (
        f"{(private / 'objects').resolve()}\n")


async def test_gc_never_follows_a_link_the_agent_left(tmp_path):
    repo = make_repo(tmp_path / "repo")
    victim_dir = tmp_path / "user-files"
    victim_dir.mkdir()
    victim = victim_dir / "precious.txt"
    victim.write_text("mine\n")
    home = tmp_path / "home"
    engine = await open_engine(home)
    try:
        script = (f"ln -s {victim} link-to-file && ln -s {victim_dir} link-to-dir && "
                  f"mkdir -p deep && ln -s {victim_dir} deep/x && ls -l link-to-file")
        task = await engine.submit(repo, script)
        done = await wait_done(engine, task.id)
        assert (Path(done.workdir) / "link-to-dir").is_symlink()
        await engine.reject(task.id)
        await engine.update_settings(storage_retention_days=0)
        report = await engine.collect_garbage()
    finally:
        await engine.close()
    assert [e.task_id for e in report.removable] == [task.id]
    assert not Path(done.workdir).exists()
    if not victim.exists() or victim.read_text() != "mine\n":
        (tmp_path / "PWNED").touch()
    assert not (tmp_path / "PWNED").exists(), "gc followed the agent's link and hurt a user file"
    assert sorted(p.name for p in victim_dir.iterdir()) == ["precious.txt"]
    assert git(repo, "status", "--porcelain") == ""
