"""Bad input gets a clear, specific error and loses nothing."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agentdeck.engine.store import db as st
from agentdeck.engine.batch.file import parse_batch_file
from agentdeck.engine.errors import InvalidInput, NotFound, RepoError
from agentdeck.engine.models import TaskState
from agentdeck.engine.runtimes.base import MAX_LINE_BYTES
from agentdeck.engine.validate import MAX_PROMPT_BYTES
from tests.engine.enginekit import (make_repo, open_engine, private_refs, profiles_home,
                                    stdout_lines, wait_done)


async def test_missing_repo_non_git_dir_empty_prompt_unknown_agent(engine, repo, tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(RepoError, match="does not exist"):
        await engine.submit(tmp_path / "nowhere", "echo hi")
    with pytest.raises(RepoError, match="not a git repo"):
        await engine.submit(tmp_path / "plain", "echo hi")
    with pytest.raises(InvalidInput, match="prompt is empty"):
        await engine.submit(repo, "   \n")
    with pytest.raises(NotFound, match="no agent profile named 'nope'"):
        await engine.submit(repo, "echo hi", agent="nope")
    assert await engine.list_tasks() == []


async def test_fifty_megabytes_without_a_newline_is_cut_not_swallowed(engine, repo):
    script = "head -c 52428800 /dev/zero | tr '\\0' x; echo; echo after"
    task = await engine.submit(repo, script)
    done = await wait_done(engine, task.id, timeout=60)
    assert done.state == TaskState.SUCCEEDED
    lines = stdout_lines(engine, task.id)
    assert lines[-1] == "after" and len(lines) == 2
    assert lines[0].startswith("x" * 1000) and "line cut" in lines[0]
    assert len(lines[0].encode()) < MAX_LINE_BYTES + 200


async def test_binary_output_and_invalid_utf8_are_kept_readable(engine, repo):
    task = await engine.submit(repo, "printf 'ok \\377\\376 bytes\\n'; head -c 3000 /dev/urandom; echo; echo end")
    done = await wait_done(engine, task.id)
    assert done.state == TaskState.SUCCEEDED
    lines = stdout_lines(engine, task.id)
    assert lines[0].startswith("ok ") and lines[0].endswith(" bytes")
    assert lines[-1] == "end"


async def test_unknown_task_ids_and_wrong_states_say_so(engine, repo):
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
    with pytest.raises(InvalidInput, match="follow-up message contains a NUL byte"):
        await engine.follow_up(done.id, "go on\0")
    assert (await engine.get_task(done.id)).attempt == 1, "nothing was queued"


async def test_a_missing_agent_cli_names_the_package_to_install(tmp_path):
    repo = make_repo(tmp_path / "repo")
    home = profiles_home(tmp_path / "home", '[profiles.gem]\nkind = "gemini"\n'
                         'command = ["gemini-not-installed", "-p", "{prompt}"]\n')
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


@pytest.mark.parametrize(("fields", "words"), [
    ({"timeout": -5}, "the timeout must be seconds above zero"),
    ({"timeout": float("nan")}, "the timeout must be"),
    ({"timeout": float("inf")}, "the timeout must be"),
    ({"budget_usd": float("nan")}, "the budget must be a number of dollars above zero, not nan"),
    ({"budget_usd": float("inf")}, "the budget must be"),
    ({"priority": 10 ** 30}, "the priority must be a whole number from"),
    ({"not_before": float("nan")}, "the start time must be a time"),
    ({"title": "a\0b"}, "the title contains a NUL byte"),
    ({"prompt": "echo a\0b"}, "the prompt contains a NUL byte (at character 7)"),
    ({"prompt": "echo \udc80"}, "the prompt is not valid Unicode text"),
    ({"prompt": "x" * (1 << 20)}, "the prompt is 1 MiB (1048576 bytes); the limit is 120 KiB"),
    ({"repo": "/tmp/a\0b"}, "contains a NUL byte"),
])
async def test_a_value_no_task_may_hold_is_refused_at_submit_and_creates_nothing(
        idle_engine, repo, home, fields, words):
    await idle_engine.submit(repo, "true")  # the private git dir exists: refs would show
    args = {"repo": repo, "prompt": "echo hi", **fields}
    with pytest.raises((InvalidInput, RepoError)) as caught:
        await idle_engine.submit(args.pop("repo"), args.pop("prompt"), **args)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert len(await idle_engine.list_tasks()) == 1
    assert len(private_refs(home)) == 1


async def test_a_prompt_at_the_limit_reaches_the_agent_whole(engine, repo):
    """The limit leaves room in the argument: a prompt of exactly the limit runs."""
    script = "printf %s " + "x" * (MAX_PROMPT_BYTES - len("printf %s  | wc -c")) + " | wc -c"
    assert len(script.encode()) == MAX_PROMPT_BYTES
    done = await wait_done(engine, (await engine.submit(repo, script)).id)
    assert done.state == TaskState.SUCCEEDED, done.error
    assert stdout_lines(engine, done.id)[-1].strip() == str(MAX_PROMPT_BYTES - 18)


def _batch_file(path: Path, repos: list[Path], count: int, odd: dict[int, str]) -> Path:
    """``count`` tasks cycling over ``repos``; task ``n`` gets the extra line ``odd[n]``."""
    lines = []
    for n in range(count):
        lines += ["[[task]]", f'prompt = "echo {n}"', f'repo = "{repos[n % len(repos)]}"']
        lines += [odd[n]] if n in odd else []
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(("odd", "error", "words"), [
    ({999: 'agent = "nope"'}, NotFound, "big.toml line 2998: no agent profile named 'nope'"),
    ({500: 'runtime = "dockr"'}, InvalidInput, "big.toml line 1501: unknown runtime 'dockr'"),
])
async def test_a_batch_with_one_bad_task_is_refused_whole_naming_its_line(
        idle_engine, home, tmp_path, odd, error, words):
    """The file is parsed without the profiles (as an API caller might): the engine still
    checks every task before it touches a repo, and says where the bad one was written."""
    repos = [make_repo(tmp_path / "one"), make_repo(tmp_path / "two")]
    spec = parse_batch_file(_batch_file(tmp_path / "big.toml", repos, 1000, odd))
    with pytest.raises(error, match=words):
        await idle_engine.submit_batch(spec)
    assert await idle_engine.list_tasks() == [] and await idle_engine.list_batches() == []
    assert private_refs(home) == []


async def test_a_batch_whose_second_repo_is_unusable_leaves_no_ref_in_the_first(
        idle_engine, home, tmp_path):
    good = make_repo(tmp_path / "good")
    (tmp_path / "plain").mkdir()
    spec = parse_batch_file(_batch_file(tmp_path / "b.toml", [good, tmp_path / "plain"], 4, {}))
    with pytest.raises(RepoError, match=r"b\.toml line 4: .*plain is not a git repository"):
        await idle_engine.submit_batch(spec)
    assert await idle_engine.list_tasks() == [] and private_refs(home) == []


async def test_a_failed_insert_takes_back_the_refs_of_its_tasks(idle_engine, repo, home, tmp_path):
    """SQLite itself refuses the rows (a trigger): the snapshot refs must not stay."""
    await idle_engine.submit(repo, "true")
    with sqlite3.connect(st.db_path(home)) as conn:
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON tasks "
                     "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    spec = parse_batch_file(_batch_file(tmp_path / "b.toml", [repo], 3, {}))
    with pytest.raises(Exception, match="refused by the test"):
        await idle_engine.submit_batch(spec)
    with pytest.raises(Exception, match="refused by the test"):
        await idle_engine.submit(repo, "echo hi")
    assert len(private_refs(home)) == 1


async def test_a_script_without_a_title_is_named_by_its_first_comment(idle_engine, repo):
    """A shell task's title is what its script says it does, not ``#!/bin/sh`` or
    ``set -e`` (the wall and the list showed script fragments)."""
    script = await idle_engine.submit(repo, "#!/bin/sh\nset -eu\n# Fix the typos in the "
                                            "docs\nsed -i 's/teh/the/' *.md\n")
    plain = await idle_engine.submit(repo, "set -e\nruff check --fix .\n")
    named = await idle_engine.submit(repo, "echo hi", title="Say hi")
    assert script.title == "Fix the typos in the docs"
    assert plain.title == "ruff check --fix ."
    assert named.title == "Say hi"
