"""The built-in agent with its tools in a container: the host alone, then the whole engine."""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest

from agentdeck.engine.runtimes.docker.tool_host import DockerToolHost
from agentdeck.engine.agents.builtin.host import MissingFile, ToolError
from agentdeck.engine.agents.builtin.tools import Toolbox
from agentdeck.engine.runtimes.docker.images import TEST_IMAGE
from agentdeck.engine.models import EntryKind, ReviewState, TaskState
from agentdeck.engine.runtimes.docker.runtime import DockerRuntime
from agentdeck.engine.runtimes.inprocess import KEEPALIVE, BuiltinRuntime
from tests.engine.enginekit import builtin_home, make_repo, open_engine, wait_done, wait_until
from tests.fakes.llm_server import LLMServer
from tests.fakes.scripts import reply, tool_call
from tests.integration.conftest import Collector

pytestmark = pytest.mark.docker


@pytest.fixture
async def host(runtime: DockerRuntime, make_spec: Any):
    """A DockerToolHost on a kept-alive container holding a small git working copy."""
    box = await runtime.start(replace(make_spec("true"), argv=KEEPALIVE), Collector())
    yield DockerToolHost(box.container)
    await box.cleanup()


async def test_commands_run_in_the_container_as_the_sandbox_user(host: DockerToolHost) -> None:
    code, out = await host.exec("id -u; pwd; cat README.md; echo oops >&2; exit 3", 10)
    assert (code, out) == (3, "1000\n/work\nhello\noops\n")
    code, out = await host.exec(["printf", "%s|", "a b", "it's"], 10)
    assert (code, out) == (0, "a b|it's|")
    code, out = await host.exec("nc -w 2 1.1.1.1 80 </dev/null; echo rc=$?", 10)
    assert out.strip().endswith("rc=1")  # network none, as for any agent


async def test_a_command_past_its_timeout_is_killed_and_background_children_do_not_hang(
        host: DockerToolHost) -> None:
    started = time.monotonic()
    code, out = await host.exec("echo before; sleep 30", 1)
    assert code == 124 and out.startswith("before") and "killed: still running" in out
    code, out = await host.exec("sleep 30 & echo started", 10)
    assert (code, out) == (0, "started\n")
    assert time.monotonic() - started < 15  # neither waited for the sleeps
    _, left = await host.exec("ps -o args | grep -c '^sleep 30$' || true", 10)
    assert left.strip() == "0"  # both commands' sleeps are gone


async def test_files_are_read_written_and_listed_inside_the_container(
        host: DockerToolHost) -> None:
    await host.write("docs/new/notes.md", b"line\n")
    await host.write("README.md", b"changed\n")
    assert await host.read("docs/new/notes.md") == b"line\n"
    assert await host.read("README.md") == b"changed\n"
    assert await host.walk() == ["README.md", "docs/new/notes.md", "src/main.py"]
    assert await host.walk("src") == ["src/main.py"]
    code, out = await host.exec("ls -ln docs/new/notes.md | awk '{print $3}'", 10)
    assert out.strip() == "1000"  # owned by the sandbox user, editable by its commands
    await host.exec("head -c 5000 /dev/zero > big.bin; ln -s README.md link", 10)
    many = await host.read_many(["README.md", "gone.txt", "big.bin", "link", "src/main.py"],
                                max_bytes=4096)
    assert many == [("README.md", b"changed\n"), ("src/main.py", b"print('hi')\n")]
    found = await Toolbox(host).search("print|changed")
    assert found.text == "README.md:1: changed\nsrc/main.py:1: print('hi')"


async def test_paths_are_checked_and_symlinks_followed_only_inside(host: DockerToolHost) -> None:
    await host.exec("ln -s src/main.py inside; ln -s /etc/passwd outside; mkdir d", 10)
    assert await host.read("inside") == b"print('hi')\n"
    with pytest.raises(ToolError, match="outside the repository"):
        await host.read("outside")
    with pytest.raises(ToolError, match="'..' is not allowed"):
        await host.read("../etc/passwd")
    with pytest.raises(ToolError, match="relative"):
        await host.write("/tmp/x", b"x")
    with pytest.raises(ToolError, match=".git are not written"):
        await host.write(".git/hooks/post-checkout", b"#!/bin/sh\n")
    with pytest.raises(ToolError, match="is a directory"):
        await host.read("d")
    with pytest.raises(MissingFile):
        await host.read("nope.txt")
    with pytest.raises(MissingFile):
        await host.walk("nope")


# -- through the engine ------------------------------------------------------------------

KEY = "sk-test-builtin-docker-456"


@pytest.fixture
def home(tmp_path, llm_server: LLMServer, monkeypatch, docker_client):
    monkeypatch.setenv("FAKE_LLM_KEY", KEY)
    return builtin_home(tmp_path / "home", llm_server.base_url, "gpt-4.1",
                        profile_extra=f'image = "{TEST_IMAGE}"\nmemory = "64m"\n')


async def test_builtin_agent_on_docker_edits_in_its_container(
        tmp_path, home, llm_server, docker_client) -> None:
    repo = make_repo(tmp_path / "repo")
    llm_server.enqueue(
        reply("", tool_call("edit_file", {"path": "src/app.py", "old": "x = 1",
                                          "new": "x = 2"})),
        reply("", tool_call("run", {"command": "id -u; echo made > made.txt; "
                                               "echo key=[$FAKE_LLM_KEY]; touch /tmp/trace"})),
        reply("", tool_call("finish", {"summary": "x is two"})),
    )
    engine = await open_engine(home, default_runtime="docker")
    try:
        task = await engine.submit(repo, "make x two", agent="bot")
        done = await wait_done(engine, task.id, timeout=120)
        assert done.state == TaskState.SUCCEEDED, done.error
        assert done.runtime == "docker" and done.review == ReviewState.PENDING
        patch = await engine.get_patch(task.id)
        assert "+x = 2" in patch and "+made" in patch
        (command,) = [e for e in await engine.get_logs(task.id, limit=None)
                      if e.kind is EntryKind.COMMAND]
        assert command.data["exit_code"] == 0
        assert command.data["output"] == "1000\nkey=[]\n"  # the sandbox user, no key
        assert not (tmp_path / "trace").exists()
        await wait_until(lambda: not docker_client.containers.list(
            all=True, sparse=True, filters={"label": f"agentdeck.home={home}"}),
            what="container removed")
    finally:
        await engine.close()


async def test_after_a_restart_the_attempt_is_lost_but_its_files_come_back(
        runtime: DockerRuntime, make_spec: Any, docker_client: Any, tmp_path: Any) -> None:
    spec = replace(make_spec("true"), argv=("the prompt",))
    box = await runtime.start(replace(spec, argv=KEEPALIVE), Collector())
    await DockerToolHost(box.container).write("made.txt", b"by the agent\n")
    box.detach()  # the engine goes away; the container stays
    builtin = BuiltinRuntime(tmp_path, lambda provider, wait: None, tools=runtime)
    again = await builtin.attach(spec, box.ref, None, Collector())
    outcome = await again.wait()
    assert outcome.lost and "restart" in (outcome.reason or "")
    await again.collect()
    assert (spec.workdir / "made.txt").read_text() == "by the agent\n"
    await again.cleanup()
    assert not docker_client.containers.list(all=True, sparse=True,
                                             filters={"id": box.ref.split("/")[1]})
