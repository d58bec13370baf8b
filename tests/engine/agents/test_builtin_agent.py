"""The built-in agent: the real loop, real LLM clients against the scripted server, a real
git working copy and real processes."""
from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from agentdeck.engine.agents.builtin.loop import BuiltinOutcome, run_builtin
from agentdeck.engine.agents.builtin.host import LocalToolHost, ToolError
from agentdeck.engine.agents.builtin.tools import SEARCH_MAX_BYTES, Toolbox
from agentdeck.engine.llm import (
    AnthropicClient, LLMError, LLMProtocolError, LLMTimeout, OpenAIChatClient, RetryPolicy,
)
from agentdeck.engine.models import AgentProfile, EntryKind, ParsedEntry
from agentdeck.engine.config.pricing import cost_usd
from agentdeck.engine.runtimes.base import LaunchSpec
from agentdeck.engine.runtimes.local.bwrap import PrivateEntries
from agentdeck.engine.runtimes.local.launch import tool_wrapper
from tests.engine.enginekit import git, make_repo
from tests.fakes.llm_server import LLMServer
from tests.fakes.scripts import (
    cut_mid_event, error_status, hang, malformed, rate_limited, reply, tool_call,
)

KEY = "sk-ant-very-secret-key-42"
MODEL = "claude-sonnet-4-5"
FLAVOURS = ["openai", "anthropic"]
CHECK = "cd src && python3 -B -c 'import app; print(app.x)'"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prices come from the shipped table, not from a user file of this machine."""
    monkeypatch.setenv("AGENTDECK_HOME", str(tmp_path / "home"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {
        "src/app.py": "x = 1\n", "src/util.py": "def twice(v):\n    return v * 2\n",
        "AGENTS.md": "Run the checks with `sh check.sh` before finishing.\n",
    })


class Agent:
    """One run of the agent against the server, keeping what it emitted."""

    def __init__(self, server: LLMServer, flavour: str, repo: Path, **client_options) -> None:
        client_options.setdefault("retry", RetryPolicy(attempts=2, base_delay=0.01))
        client_options.setdefault("read_timeout", 5.0)
        self.client = (OpenAIChatClient(server.base_url, KEY, **client_options)
                       if flavour == "openai" else
                       AnthropicClient(server.url, KEY, **client_options))
        self.host = LocalToolHost(repo)
        self.entries: list[ParsedEntry] = []

    async def run(self, prompt: str = "make x two", **options) -> BuiltinOutcome:
        try:
            return await run_builtin(prompt, client=self.client, model=MODEL, tools=self.host,
                                     emit=self.entries.append, **options)
        finally:
            await self.client.aclose()

    def of(self, kind: EntryKind) -> list[ParsedEntry]:
        return [e for e in self.entries if e.kind == kind]


def tool_results(request) -> str:
    """Everything a request sent back as tool results, as one string."""
    return json.dumps(request.body["messages"][-3:])


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_edits_runs_a_command_and_finishes(llm_server: LLMServer, repo: Path,
                                                 flavour: str) -> None:
    llm_server.enqueue(
        reply("Let me look.", tool_call("list_files", {"glob": "*.py"}),
              tool_call("read_file", {"path": "src/app.py"}), input_tokens=1000,
              output_tokens=100),
        reply("", tool_call("edit_file", {"path": "src/app.py", "old": "x = 1", "new": "x = 2"}),
              tool_call("write_file", {"path": "docs/NOTES.md", "content": "x changed\n"}),
              input_tokens=2000, output_tokens=200),
        reply("", tool_call("run", {"command": CHECK}), input_tokens=3000, output_tokens=50),
        reply("All good.", tool_call("finish", {"summary": "x is now 2"}), input_tokens=4000,
              output_tokens=20))
    agent = Agent(llm_server, flavour, repo)
    outcome = await agent.run()

    assert (outcome.finished, outcome.reason, outcome.summary) == (True, "finished", "x is now 2")
    assert (outcome.steps, outcome.input_tokens, outcome.output_tokens) == (4, 10_000, 370)
    assert outcome.cost_usd == pytest.approx(cost_usd(MODEL, 10_000, 370)) == pytest.approx(
        (10_000 * 3 + 370 * 15) / 1e6)
    usage = [e.data["usage"] for e in agent.of(EntryKind.USAGE)]
    assert sum(u["input_tokens"] for u in usage) == 10_000
    assert sum(u["cost_usd"] for u in usage) == pytest.approx(outcome.cost_usd)

    assert (repo / "src/app.py").read_text() == "x = 2\n"
    assert git(repo, "status", "--porcelain").splitlines() == ["M src/app.py", "?? docs/"]
    assert [(e.data["path"], e.data["kind"]) for e in agent.of(EntryKind.FILE_EDIT)] == [
        ("src/app.py", "modified"), ("docs/NOTES.md", "created")]
    (command,) = agent.of(EntryKind.COMMAND)
    assert (command.data["exit_code"], command.data["output"]) == (0, "2\n")
    assert [e.data["name"] for e in agent.of(EntryKind.TOOL_CALL)] == [
        "list_files", "read_file", "edit_file", "write_file", "run", "finish"]
    assert [e.text for e in agent.of(EntryKind.MESSAGE)] == ["Let me look.", "All good."]

    first, second = llm_server.llm_requests()[:2]
    assert "sh check.sh" in json.dumps(first.body)  # AGENTS.md reached the system prompt
    assert "src/app.py\\nsrc/util.py" in tool_results(second)
    assert "x = 1" in tool_results(second)


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_tool_errors_go_back_to_the_model(llm_server: LLMServer, repo: Path,
                                                tmp_path: Path, flavour: str) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    (repo / "link").symlink_to(tmp_path)
    llm_server.enqueue(
        reply("", tool_call("edit_file", {"path": "src/app.py", "old": "nope", "new": "y"}),
              tool_call("edit_file", {"path": "src/util.py", "old": "v", "new": "w"}),
              tool_call("write_file", {"path": "../outside.txt", "content": "pwned"}),
              tool_call("write_file", {"path": str(outside), "content": "pwned"}),
              tool_call("write_file", {"path": "link/outside.txt", "content": "pwned"}),
              tool_call("read_file", {"path": "link/outside.txt"}),
              tool_call("write_file", {"path": ".git/hooks/pre-commit", "content": "x"}),
              tool_call("read_file", {"path": "missing.py"}),
              tool_call("run", {"command": 42}),
              tool_call("fly", {})),
        reply("I could not do it."))
    agent = Agent(llm_server, flavour, repo)
    outcome = await agent.run()

    assert (outcome.finished, outcome.reason) == (True, "answered")
    sent = tool_results(llm_server.llm_requests()[1]) + json.dumps(
        llm_server.llm_requests()[1].body)
    for expected in ["was not found in src/app.py", "occurs 2 times in src/util.py",
                     "'..' is not allowed", "use a path relative to the repository root",
                     "leads outside the repository", "files under .git are not written",
                     "missing.py: no such file", "argument 'command' must be a string",
                     "there is no tool 'fly'"]:
        assert expected in sent
    assert outside.read_text() == "keep me\n"
    assert not (repo / ".git/hooks/pre-commit").exists()
    assert git(repo, "status", "--porcelain") == "?? link"
    assert all(not e.data["ok"] for e in agent.of(EntryKind.TOOL_RESULT))


async def test_budgets_stop_the_loop_cleanly(llm_server: LLMServer, repo: Path) -> None:
    looping = reply("", tool_call("read_file", {"path": "src/app.py"}), input_tokens=100_000,
                    output_tokens=10_000)
    llm_server.default = looping
    steps = await Agent(llm_server, "openai", repo).run(max_steps=3)
    tokens = await Agent(llm_server, "openai", repo).run(max_tokens_total=250_000)
    money = await Agent(llm_server, "anthropic", repo).run(budget_usd=0.50)
    assert (steps.finished, steps.reason, steps.steps) == (False, "max_steps", 3)
    assert (tokens.reason, tokens.steps, tokens.input_tokens) == ("token_budget", 3, 300_000)
    # One step costs 100k * $3/M + 10k * $15/M = $0.45; the second one crosses $0.50.
    assert (money.reason, money.steps, money.cost_usd) == ("cost_budget", 2, pytest.approx(0.9))


async def test_cut_off_reply_is_continued(llm_server: LLMServer, repo: Path) -> None:
    llm_server.enqueue(reply("The first half", stop_reason="max_tokens"),
                       reply("and the rest."))
    agent = Agent(llm_server, "anthropic", repo)
    outcome = await agent.run()
    assert (outcome.reason, outcome.steps, outcome.summary) == ("answered", 2, "and the rest.")
    assert "cut off" in json.dumps(llm_server.llm_requests()[1].body["messages"][-1])


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_rate_limit_is_ridden_out(llm_server: LLMServer, repo: Path, flavour: str) -> None:
    llm_server.enqueue(rate_limited(retry_after=0), reply("done"))
    outcome = await Agent(llm_server, flavour, repo).run()
    assert outcome.reason == "answered" and len(llm_server.llm_requests()) == 2


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_a_reply_cut_mid_event_is_asked_again_and_logged_once(
        llm_server: LLMServer, repo: Path, flavour: str) -> None:
    """The loop acts only on whole replies: the cut attempt's text never reaches the log,
    and the retry is said, with its reason and wait."""
    llm_server.enqueue(reply("", tool_call("list_files")), cut_mid_event(after=3),
                       reply("All done."))
    agent = Agent(llm_server, flavour, repo)
    outcome = await agent.run()
    assert (outcome.reason, outcome.steps) == ("answered", 2)
    assert [e.text for e in agent.of(EntryKind.MESSAGE)] == ["All done."]
    assert "partial answer" not in repr(agent.entries) and len(agent.of(EntryKind.USAGE)) == 2
    (retry,) = [e for e in agent.of(EntryKind.SYSTEM) if "llm_retry" in (e.data or {})]
    assert "failed (the stream broke off in the middle of an event" in retry.text
    assert retry.text.endswith(f"retrying in {retry.data['llm_retry']['delay']:.1f} s "
                               "(attempt 2 of 2)")


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("faults, error", [
    ([error_status(500, f"upstream broke, key={KEY}")] * 2, LLMError),
    ([hang(), hang()], LLMTimeout),
    ([malformed()], LLMProtocolError),
])
async def test_llm_failures_end_the_run_with_a_clear_error(
        llm_server: LLMServer, repo: Path, flavour: str, faults, error) -> None:
    llm_server.enqueue(reply("", tool_call("list_files")), *faults)
    agent = Agent(llm_server, flavour, repo, read_timeout=0.2)
    with pytest.raises(error) as info:
        await agent.run()
    (entry,) = agent.of(EntryKind.ERROR)
    assert entry.text == str(info.value) and llm_server.url in entry.text
    assert KEY not in repr(agent.entries) and KEY not in str(info.value)


async def test_commands_do_not_see_the_engines_secrets(
        llm_server: LLMServer, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    llm_server.enqueue(reply("", tool_call("run", {"command": "env"})), reply("done"))
    agent = Agent(llm_server, "anthropic", repo)
    await agent.run()
    (command,) = agent.of(EntryKind.COMMAND)
    assert "PATH=" in command.data["output"]
    assert KEY not in repr(agent.entries) and KEY not in json.dumps(
        [r.body for r in llm_server.llm_requests()])


# -- the local tool host on its own ---------------------------------------------------------

async def test_host_confines_paths(repo: Path, tmp_path: Path) -> None:
    host = LocalToolHost(repo)
    (tmp_path / "secret.txt").write_text("s3cret")
    (repo / "out_dir").symlink_to(tmp_path)
    (repo / "out_file").symlink_to(tmp_path / "secret.txt")
    (repo / "in_link").symlink_to(repo / "src/app.py")
    for bad in ["/etc/passwd", "../secret.txt", "src/../../secret.txt", "~/x", "out_file",
                "out_dir/secret.txt"]:
        with pytest.raises(ToolError):
            await host.read(bad)
        with pytest.raises(ToolError):
            await host.write(bad, b"x")
    assert (tmp_path / "secret.txt").read_text() == "s3cret"
    assert await host.read("in_link") == b"x = 1\n"
    await host.write("in_link", b"x = 3\n")  # a link inside the repo is followed
    assert (repo / "src/app.py").read_text() == "x = 3\n"
    with pytest.raises(ToolError, match=".git are not written"):
        await host.write(".git/config", b"[core]\n")
    assert await host.walk("src") == ["src/app.py", "src/util.py"]
    assert "out_dir/secret.txt" not in await host.walk()


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.split(")")[-1].split()[0] != "Z"


async def dies(pid: int) -> bool:
    """Whether ``pid`` is gone within 5 s (SIGKILL is delivered asynchronously)."""
    for _ in range(100):
        if not alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_run_timeout_kills_the_whole_group(repo: Path) -> None:
    host = LocalToolHost(repo)
    code, output = await host.exec("sleep 30 & echo $! > bg.pid; echo started; wait", 0.5)
    assert code == 124 and "started" in output and "still running after 0.5 s" in output
    assert await dies(int((repo / "bg.pid").read_text()))


async def test_background_children_do_not_outlive_the_command(repo: Path) -> None:
    code, output = await LocalToolHost(repo).exec("sleep 30 & echo $!", 10)
    assert code == 0 and await dies(int(output))


async def test_long_output_keeps_head_and_tail(repo: Path) -> None:
    command = "python3 -c \"print('HEAD' + 'a' * 200000 + 'TAIL')\"; exit 3"
    code, output = await LocalToolHost(repo).exec(command, 10)
    assert code == 3 and output.startswith("HEAD") and output.rstrip().endswith("TAIL")
    assert "bytes of output left out" in output and len(output) < 30_000


async def test_cancelling_a_command_kills_its_group(repo: Path) -> None:
    host = LocalToolHost(repo)
    task = asyncio.create_task(host.exec("sleep 30 & echo $! > bg.pid; wait", 60))
    pid_file = repo / "bg.pid"
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await dies(int(pid_file.read_text()))


def _processes_naming(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and token.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
async def test_a_sandboxed_command_cancelled_at_any_moment_ends_with_its_sandbox(
        repo: Path, tmp_path: Path) -> None:
    """A budget stop can land while the command's sandbox is still being made: the run
    ends all the same and no half-made sandbox is left behind holding its pipe (killing
    only bwrap's first process there left its second one orphaned, and the task hung)."""
    spec = LaunchSpec("t", 1, ("sh",), repo, AgentProfile("bot", kind="builtin"))
    (tmp_path / "run").mkdir()
    prefix, _ = tool_wrapper(spec, tmp_path / "run", PrivateEntries(tmp_path / "cache.json"))
    host = LocalToolHost(repo, confine=prefix)
    for attempt in range(60):
        task = asyncio.create_task(host.exec("echo step", 60))
        for _ in range(attempt % 4):
            await asyncio.sleep(0)
        await asyncio.sleep(attempt * 0.0002)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=10)
        assert done == {task}, f"the command cancelled in its attempt {attempt} never ended"
    await asyncio.sleep(0.2)
    assert _processes_naming(str(repo)) == [], "a sandbox outlived its cancelled command"


async def test_search_skips_binary_and_large_files(repo: Path) -> None:
    (repo / "data.bin").write_bytes(b"\0twice\0")
    (repo / "huge.py").write_text("twice\n" * (SEARCH_MAX_BYTES // 6 + 1))
    tools = Toolbox(LocalToolHost(repo))
    found = await tools.search(r"tw\w+", glob="*.py")
    assert found.text == "src/util.py:1: def twice(v):"
    assert (await tools.search("nothing-like-this")).text == "no matches"
    listed = await tools.list_files("src")
    assert listed.text == "src/app.py\nsrc/util.py"
