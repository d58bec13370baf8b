"""The changes-only Docker collect against a hostile agent: links, setuid bits, git metadata.

Each attack runs in a real container started from a base layer; the test asserts that the
attack was made (the agent's output says so, or its entry came back as what it is) and
that its trace is absent on the host: no marker file, no setuid bit, one copy of linked data.
"""
from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from agentdeck.engine.models import TaskState
from agentdeck.engine.runtimes.docker.baselayer import list_base_images
from agentdeck.engine.runtimes.docker.images import TEST_IMAGE
from tests.engine.enginekit import make_repo, open_engine, stdout_lines, wait_done
from tests.integration.test_sec_docker import BOMB, BOMB_LINKS, BOMB_MB, disk_used

pytestmark = pytest.mark.docker


@pytest.fixture
def home(tmp_path, docker_client):
    home = tmp_path / "home"
    home.mkdir()
    (home / "agents.toml").write_text(
        f'[profiles.shell]\nimage = "{TEST_IMAGE}"\nmemory = "256m"\ncpus = 1.0\n')
    yield home
    for image in list_base_images(docker_client, str(home)):
        docker_client.images.remove(image.tag, force=True)


async def _run(home: Path, repo: Path, script: str):
    engine = await open_engine(home, default_runtime="docker")
    try:
        task = await engine.submit(repo, script)
        done = await wait_done(engine, task.id, timeout=300)
        return engine, done, stdout_lines(engine, task.id)
    except BaseException:
        await engine.close()
        raise


async def test_a_symlink_out_of_the_tree_comes_back_as_a_link_never_followed(tmp_path, home):
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = make_repo(tmp_path / "repo")
    engine, done, out = await _run(home, repo, (
        f"mkdir -p {outside} && ln -s {outside} escape && echo pwned > escape/marker && "
        "ln -s /etc/passwd pw && ls escape/"))
    try:
        assert done.state == TaskState.SUCCEEDED, done.error
        assert out == ["marker"]  # the write through the link happened, in the container
        assert not (outside / "marker").exists()
        workdir = Path(done.workdir)
        assert os.readlink(workdir / "escape") == str(outside)
        patch = await engine.get_patch(done.id)
        assert "new file mode 120000" in patch and "root:" not in patch
    finally:
        await engine.close()


async def test_a_setuid_file_comes_back_without_the_bit(tmp_path, home):
    repo = make_repo(tmp_path / "repo")
    engine, done, out = await _run(home, repo, (
        "printf '#!/bin/sh\\necho hi\\n' > tool && chmod 4755 tool && stat -c %a tool"))
    try:
        assert done.state == TaskState.SUCCEEDED, done.error
        assert out == ["4755"]
        mode = os.lstat(Path(done.workdir) / "tool").st_mode
        assert not mode & (stat.S_ISUID | stat.S_ISGID) and mode & stat.S_IXUSR
    finally:
        await engine.close()


async def test_a_hard_link_bomb_is_one_copy_through_the_changes_only_collect(tmp_path, home):
    repo = make_repo(tmp_path / "repo")
    before = disk_used(home)
    engine, done, out = await _run(home, repo, BOMB)
    try:
        assert done.state == TaskState.SUCCEEDED, done.error
        assert out == [f"links={BOMB_LINKS + 1}"]
        big = Path(done.workdir) / "big"
        assert os.stat(big).st_nlink == BOMB_LINKS + 1
        grown = disk_used(home) - before
        assert grown < (2 * BOMB_MB + 8) << 20, grown  # the file and its blob, not 251 copies
    finally:
        await engine.close()


GIT_ATTACK = (
    "mkdir -p .git/hooks && printf '#!/bin/sh\\ntouch {marker}\\n' > .git/hooks/post-commit && "
    "chmod +x .git/hooks/post-commit && "
    "printf '[core]\\n\\tfsmonitor = touch {marker}\\n' >> .git/config && "
    "mkdir -p sub/.git && printf '[core]\\n\\tfsmonitor = touch {marker}\\n' > sub/.git/config && "
    "echo 'gitdir: {repo}/.git' > sub2.git && mkdir -p sub3 && "
    "echo 'gitdir: {repo}/.git' > sub3/.git && echo change >> README.md && "
    "grep -c fsmonitor .git/config sub/.git/config")


async def test_agent_git_metadata_never_runs_on_the_host(tmp_path, home):
    marker = tmp_path / "marker"
    repo = make_repo(tmp_path / "repo")
    engine, done, out = await _run(home, repo, GIT_ATTACK.format(marker=marker, repo=repo))
    try:
        assert done.state == TaskState.SUCCEEDED, done.error
        # The payloads were in place (the layer's own config says fsmonitor = false).
        assert out == [".git/config:2", "sub/.git/config:1"]
        workdir = Path(done.workdir)
        assert str(marker) not in (workdir / ".git" / "config").read_text()
        assert not (workdir / ".git" / "hooks").exists()
        unsafe = " ".join((await engine.get_diff(done.id)).unsafe)
        assert "sub" in unsafe and "sub3" in unsafe
        # The user opens the copy and runs git in it, then accepts the change.
        for where in (workdir, workdir / "sub", workdir / "sub3"):
            subprocess.run(["git", "status"], cwd=where, capture_output=True, check=False)
        await engine.accept(done.id, exclude=["sub", "sub3"])
        assert not marker.exists()
        assert "change" in (repo / "README.md").read_text()
    finally:
        await engine.close()
