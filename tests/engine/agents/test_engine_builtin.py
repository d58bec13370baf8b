"""The built-in agent through the whole engine, against the scripted LLM server."""
from __future__ import annotations

import time

import pytest

from agentdeck.engine.models import EntryKind, ReviewState, TaskState
from agentdeck.engine.config.pricing import cost_usd
from tests.engine.enginekit import builtin_home, make_repo, open_engine, wait_done, wait_until
from tests.fakes.llm_server import LLMServer
from tests.fakes.scripts import cut_mid_event, rate_limited, reply, tool_call

KEY = "sk-test-builtin-secret-123"
MODEL = "gpt-4.1"


@pytest.fixture
def home(tmp_path, llm_server: LLMServer, monkeypatch):
    monkeypatch.setenv("FAKE_LLM_KEY", KEY)
    return builtin_home(tmp_path / "home", llm_server.base_url, MODEL,
                        provider_extra="max_parallel = 2\n")


async def test_builtin_agent_edits_runs_and_finishes(engine, repo, llm_server):
    llm_server.enqueue(
        reply("Editing.", tool_call("edit_file", {"path": "src/app.py", "old": "x = 1",
                                                  "new": "x = 2"}),
              input_tokens=1000, output_tokens=100),
        reply("", tool_call("run", {"command": f"echo {KEY}; cat src/app.py"}),
              input_tokens=1200, output_tokens=50),
        reply("", tool_call("finish", {"summary": "x is two"}), input_tokens=1300, output_tokens=20),
    )
    task = await engine.submit(repo, "make x two", agent="bot")
    done = await wait_done(engine, task.id)
    assert done.state == TaskState.SUCCEEDED, done.error
    assert done.review == ReviewState.PENDING and done.runtime == "local"
    assert "+x = 2" in await engine.get_patch(task.id)
    assert (done.tokens_in, done.tokens_out) == (3500, 170)
    assert done.cost_usd == pytest.approx(cost_usd(MODEL, 3500, 170))
    entries = await engine.get_logs(task.id, limit=None)
    kinds = {e.kind for e in entries}
    assert {EntryKind.MESSAGE, EntryKind.TOOL_CALL, EntryKind.COMMAND,
            EntryKind.FILE_EDIT, EntryKind.USAGE} <= kinds
    stored = repr([(e.text, e.data) for e in entries])
    assert KEY not in stored and "x = 2" in stored
    request = llm_server.llm_requests()[0]
    assert request.headers.get("authorization") == f"Bearer {KEY}"


async def test_a_rate_limit_requeues_instead_of_failing(engine, repo, llm_server):
    llm_server.enqueue(rate_limited(retry_after=600))
    task = await engine.submit(repo, "make x two", agent="bot")
    await wait_until(lambda: engine.store.get_task(task.id).attempt == 2, what="requeue")
    stored = await engine.get_task(task.id)
    assert stored.state == TaskState.QUEUED and stored.error is None
    assert stored.not_before == pytest.approx(time.time() + 600, abs=30)
    other = await engine.submit(repo, "second task on the same provider", agent="bot")
    await engine.scheduler._start_ready()
    assert (await engine.get_task(other.id)).state == TaskState.QUEUED, \
        "the provider is paused: its other tasks wait too"


async def test_an_llm_retry_is_in_the_task_log_and_its_reply_once(engine, repo, llm_server):
    llm_server.enqueue(cut_mid_event(after=3),
                       reply("Done here.", tool_call("finish", {"summary": "nothing to do"})))
    task = await engine.submit(repo, "look around", agent="bot")
    done = await wait_done(engine, task.id)
    assert done.state == TaskState.SUCCEEDED, done.error
    entries = await engine.get_logs(task.id, limit=None)
    (retry,) = [e for e in entries if e.data and "llm_retry" in e.data]
    assert retry.kind == EntryKind.SYSTEM
    assert retry.text.startswith("LLM request to fake failed (the stream broke off in "
                                 "the middle of an event")
    assert retry.text.endswith("(attempt 2 of 5)") and "retrying in " in retry.text
    assert [e.text for e in entries if e.kind == EntryKind.MESSAGE] == ["Done here."]
    assert not any("partial answer" in e.text for e in entries)


def _add_second_provider(home, base_url: str) -> None:
    """Provider ``other`` (the same server) and its agent ``bot2``: not paused with fake."""
    with (home / "providers.toml").open("a") as f:
        f.write(f'[providers.other]\nkind = "openai"\nbase_url = "{base_url}"\n'
                'api_key_env = "FAKE_LLM_KEY"\nkeyring = false\n')
    with (home / "agents.toml").open("a") as f:
        f.write(f'[profiles.bot2]\nkind = "builtin"\nprovider = "other"\nmodel = "{MODEL}"\n'
                'secrets = ["FAKE_LLM_KEY"]\n')


async def test_a_provider_pause_outlives_the_engine(tmp_path, home, llm_server):
    repo = make_repo(tmp_path / "repo")
    _add_second_provider(home, llm_server.base_url)
    llm_server.enqueue(rate_limited(retry_after=600))
    engine = await open_engine(home)
    try:
        first = await engine.submit(repo, "hits the rate limit", agent="bot")
        await wait_until(lambda: engine.store.get_task(first.id).attempt == 2, what="requeue")
    finally:
        await engine.close()
    llm_server.default = reply("", tool_call("finish", {"summary": "done"}))
    engine = await open_engine(home)  # a new engine on the same data dir
    try:
        held = await engine.submit(repo, "same provider, after the restart", agent="bot")
        free = await engine.submit(repo, "another provider", agent="bot2")
        assert (await wait_done(engine, free.id)).state == TaskState.SUCCEEDED
        stored = await engine.get_task(held.id)
        assert stored.state == TaskState.QUEUED and stored.started_at is None, \
            "the restarted engine still holds the paused provider's tasks"
        until = engine.store.provider_pauses(time.time())["fake"]
        assert until == pytest.approx(time.time() + 600, abs=30)
        may_start = engine.scheduler._may_start
        assert not may_start(stored, until - 1, {}, {}) and may_start(stored, until + 1, {}, {})
    finally:
        await engine.close()


def _expensive_steps(n: int) -> list:
    """Steps that each cost about $0.20 on gpt-4.1 (100k input tokens)."""
    return [reply("", tool_call("run", {"command": "echo step"}), input_tokens=100_000,
                  output_tokens=10) for _ in range(n)]


async def test_a_task_budget_stops_the_task_and_keeps_its_work(engine, repo, llm_server):
    llm_server.enqueue(reply("", tool_call("write_file", {"path": "a.txt", "content": "a\n"}),
                             input_tokens=100_000, output_tokens=10), *_expensive_steps(5))
    task = await engine.submit(repo, "work", agent="bot", budget_usd=0.3)
    done = await wait_done(engine, task.id)
    assert done.state == TaskState.FAILED
    assert "task's budget of $0.30 was reached" in done.error
    assert 0.3 <= done.cost_usd < 0.7, "stopped at the first step over the budget"
    assert "+a" in await engine.get_patch(task.id), "the work so far stays reviewable"


async def test_a_batch_budget_stops_its_tasks_and_cancels_the_queued_ones(tmp_path, home,
                                                                          llm_server):
    from agentdeck.engine.batch.file import parse_batch_text
    repo = make_repo(tmp_path / "repo")
    llm_server.enqueue(*_expensive_steps(10))
    text = (f'repo = "{repo}"\nagent = "bot"\nbudget_usd = 0.5\n'
            + '[[task]]\nprompt = "one"\n[[task]]\nprompt = "two"\n[[task]]\nprompt = "three"\n')
    spec = parse_batch_text(text, source="b.toml", base_dir=tmp_path)
    assert spec.budget_usd == 0.5
    engine = await open_engine(home, max_parallel=1)
    try:
        tasks = await engine.submit_batch(spec)
        done = [await wait_done(engine, t.id) for t in tasks]
        assert done[0].state == TaskState.FAILED
        assert "batch's budget of $0.50 was reached" in done[0].error
        assert [t.state for t in done[1:]] == [TaskState.CANCELLED] * 2
        assert sum(t.cost_usd for t in done) < 0.9
    finally:
        await engine.close()
