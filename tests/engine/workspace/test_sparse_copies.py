"""Tasks that name their paths (`--paths`): a sparse copy on a real repo, a capture that
keeps what was never checked out, and paths refused at submit."""
from __future__ import annotations

from pathlib import Path

import pytest

from agentdeck.engine import validate
from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.models import TaskState
from agentdeck.engine.workspace.sparse import in_cone
from tests.engine.enginekit import git, make_repo, open_engine, wait_done

FILES = {"README.md": "top\n", "src/api/handler.py": "h = 1\n", "src/api/deep/x.py": "x\n",
         "src/util.py": "u\n", "src/web/page.py": "p\n", "docs/guide.md": "g\n"}


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(root).parts}


async def test_a_task_with_paths_checks_out_only_their_cone(tmp_path):
    repo = make_repo(tmp_path / "repo", FILES)
    engine = await open_engine(tmp_path / "home")
    try:
        task = await engine.submit(
            repo, "git status --porcelain > /tmp/st; test ! -s /tmp/st && echo CLEAN; "
                  "echo 'h = 2' > src/api/handler.py", paths=["src/api/"])
        done = await wait_done(engine, task.id)
        lines = [e.text for e in await engine.get_logs(task.id, limit=None)]
        diff = await engine.get_diff(task.id)
    finally:
        await engine.close()
    assert done.state == TaskState.SUCCEEDED, done.error
    assert done.paths == ("src/api",)
    assert _files(Path(done.workdir)) == {"README.md", "src/util.py", "src/api/handler.py",
                                          "src/api/deep/x.py"}
    assert "CLEAN" in lines, "git status in a sparse copy must be clean before the agent acts"
    assert [(f.path, f.status) for f in diff.files] == [("src/api/handler.py", "modified")]


async def test_a_path_the_repo_does_not_hold_is_refused_at_submit(tmp_path):
    repo = make_repo(tmp_path / "repo", FILES)
    engine = await open_engine(tmp_path / "home")
    try:
        with pytest.raises(InvalidInput, match="the path 'src/apii' is not in the repository"):
            await engine.submit(repo, "true", paths=["src/api", "src/apii"])
        assert await engine.list_tasks() == []
    finally:
        await engine.close()
    private = next((tmp_path / "home" / "git").glob("*.git"))
    assert git(private, "for-each-ref", "refs/agentdeck") == "", "no base ref is left behind"


@pytest.mark.parametrize("bad", ["/etc", "../x", "src/../x", "a//b", ".", "a\nb"])
def test_paths_must_be_plain_relative_paths(bad):
    with pytest.raises(InvalidInput, match="the path"):
        validate.checkout_paths([bad])


def test_the_cone_takes_the_files_of_the_folders_above():
    cone = ("src/api",)
    assert in_cone("src/api/a/b.py", cone) and in_cone("src/x.py", cone)
    assert in_cone("top.md", cone)
    assert not in_cone("src/apix/y.py", cone) and not in_cone("docs/a.md", cone)
    assert not in_cone("src/web/p.py", cone)
