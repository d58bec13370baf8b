"""Bad input gets a clear, specific error and loses nothing."""
from __future__ import annotations

import pytest

from engine.errors import InvalidInput, NotFound, RepoError
from engine.models import TaskState
from engine.runtimes.base import MAX_LINE_BYTES
from tests.engine.enginekit import make_repo, open_engine, stdout_lines, wait_done


async def test_missing_repo_non_git_dir_empty_prompt_unknown_agent(tmp_path):
    repo = make_repo(tmp_path / "repo")
    (tmp_path / "plain").mkdir()
    engine = await open_engine(tmp_path / "home")
    try:
        with pytest.raises(RepoError, match="does not exist"):
            await engine.submit(tmp_path / "nowhere", "echo hi")
        with pytest.raises(RepoError, match="not a git repo"):
            await engine.submit(tmp_path / "plain", "echo hi")
        with pytest.raises(InvalidInput, match="prompt is empty"):
            await engine.submit(repo, "   \n")
        with pytest.raises(NotFound, match="no agent profile named 'nope'"):
            await engine.submit(repo, "echo hi", agent="nope")
        assert await engine.list_tasks() == []
    finally:
        await engine.close()


async def test_fifty_megabytes_without_a_newline_is_cut_not_swallowed(tmp_path):
    repo = make_repo(tmp_path / "repo")
    engine = await open_engine(tmp_path / "home")
    try:
        script = "head -c 52428800 /dev/zero | tr '\\0' x; echo; echo after"
        task = await engine.submit(repo, script)
        done = await wait_done(engine, task.id, timeout=60)
        assert done.state == TaskState.SUCCEEDED
        lines = stdout_lines(engine, task.id)
        assert lines[-1] == "after" and len(lines) == 2
        assert lines[0].startswith("x" * 1000) and "line cut" in lines[0]
        assert len(lines[0].encode()) < MAX_LINE_BYTES + 200
    finally:
        await engine.close()


async def test_binary_output_and_invalid_utf8_are_kept_readable(tmp_path):
    repo = make_repo(tmp_path / "repo")
    engine = await open_engine(tmp_path / "home")
    try:
        task = await engine.submit(repo, "printf 'ok \\377\\376 bytes\\n'; head -c 3000 /dev/urandom; echo; echo end")
        done = await wait_done(engine, task.id)
        assert done.state == TaskState.SUCCEEDED
        lines = stdout_lines(engine, task.id)
        assert lines[0].startswith("ok ") and lines[0].endswith(" bytes")
        assert lines[-1] == "end"
    finally:
        await engine.close()


async def test_unknown_task_ids_and_wrong_states_say_so(tmp_path):
    repo = make_repo(tmp_path / "repo")
    engine = await open_engine(tmp_path / "home")
    try:
        with pytest.raises(NotFound, match="no task with id 'zzz'"):
            await engine.get_task("zzz")
        task = await engine.submit(repo, "true")
        done = await wait_done(engine, task.id)
        with pytest.raises(InvalidInput, match="has no change to review"):
            await engine.accept(done.id)
        with pytest.raises(InvalidInput, match="nothing to cancel"):
            await engine.cancel(done.id)
        with pytest.raises(InvalidInput, match="follow-up message is empty"):
            await engine.follow_up(done.id, "")
    finally:
        await engine.close()


async def test_a_missing_agent_cli_names_the_package_to_install(tmp_path):
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    (home / "agents.toml").write_text(
        '[profiles.gem]\nkind = "gemini"\ncommand = ["gemini-not-installed", "-p", "{prompt}"]\n')
    engine = await open_engine(home)
    try:
        task = await engine.submit(repo, "hello", agent="gem")
        done = await wait_done(engine, task.id)
        assert done.state == TaskState.FAILED
        assert "gemini-not-installed" in done.error and "@google/gemini-cli" in done.error
    finally:
        await engine.close()


async def test_a_broken_providers_file_is_reported_not_fatal(tmp_path):
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    (home / "providers.toml").write_text("[providers.x\n")
    engine = await open_engine(home)
    try:
        assert any("providers.toml" in n.message for n in engine.notices)
        done = await wait_done(engine, (await engine.submit(repo, "echo fine")).id)
        assert done.state == TaskState.SUCCEEDED
    finally:
        await engine.close()
