"""The full agent image: real Claude Code, Aider and Gemini CLI inside it, through the
engine, behind the egress proxy (their API calls pass; Claude's own connection elsewhere is refused and
shown in the task log), and every CLI of the image at its pinned version.

Needs the agent image (`agentdeck image build --offline`, about 3.5 minutes, which
`make test` runs); skipped, saying so, where it has not been built.
"""
from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import docker.errors
import pytest

from agentdeck.engine.runtimes.docker.images import (AGENT_IMAGE, AGENT_NPM_PACKAGES, AIDER_PACKAGE, NODE_VERSION,
                           has_recipe, offline_recipe)
from agentdeck.engine.models import EntryKind, TaskState
from tests.engine.enginekit import make_repo, open_engine, wait_done
from tests.fakes.llm_server import LLMServer
from tests.fakes.scripts import reply, tool_call
from tests.integration.test_real_cli_agents import _answers_tool, _offers, gemini_env

pytestmark = pytest.mark.docker

PROFILE = f"""
[profiles.claude]
kind = "claude_code"
command = ["claude", "-p", "{{prompt}}", "--output-format", "stream-json", "--verbose",
           "--permission-mode", "bypassPermissions"]
env = ["ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "DISABLE_TELEMETRY",
       "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"]
secrets = ["ANTHROPIC_API_KEY"]
image = "{AGENT_IMAGE}"
network = true
options = {{ egress = ["api.anthropic.com:443"] }}
"""
#: Run by the agent's Bash tool: Python's urllib honours the proxy variables.
PROBE = "python3 -c \"import urllib.request as u; u.urlopen('http://example.com/', timeout=5)\""


@pytest.fixture
def agent_image(docker_client) -> Any:
    """The built agent image; the test skips, saying why, where it is not built."""
    try:
        return docker_client.images.get(AGENT_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip(f"{AGENT_IMAGE} is not built here ('agentdeck image build --offline')")


@pytest.fixture
def home(tmp_path, agent_image, llm_server: LLMServer, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "agents.toml").write_text(PROFILE)
    for name, value in {"ANTHROPIC_API_KEY": "sk-test-image", "DISABLE_TELEMETRY": "1",
                        "ANTHROPIC_BASE_URL": llm_server.url,
                        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}.items():
        monkeypatch.setenv(name, value)
    return home


async def _create_hello(engine: Any, repo: Any, agent: str) -> tuple[Any, list[Any]]:
    """Run the task "create hello.txt" with ``agent`` in a container; the finished task
    and its log."""
    task = await engine.submit(repo, "create hello.txt", agent=agent)
    done = await wait_done(engine, task.id, timeout=180)
    entries = await engine.get_logs(task.id, limit=None)
    assert done.state == TaskState.SUCCEEDED, (done.error, [e.text for e in entries])
    assert done.runtime == "docker"
    return done, entries


async def test_claude_in_a_container_edits_and_a_follow_up_resumes_its_session(
        tmp_path, home, llm_server) -> None:
    repo = make_repo(tmp_path / "repo")
    llm_server.enqueue(reply("Writing it.", tool_call("Write", {"file_path": "/work/hello.txt",
                                                                 "content": "hello\n"})),
                       when=_offers("Write"))
    llm_server.enqueue(reply("", tool_call("Bash", {"command": PROBE})), when=_answers_tool)
    llm_server.enqueue(reply("Done: wrote hello.txt"), when=_answers_tool)
    engine = await open_engine(home, default_runtime="docker")
    try:
        done, entries = await _create_hello(engine, repo, "claude")
        assert done.session_id
        assert "+hello" in await engine.get_patch(done.id)
        assert "sk-test-image" not in repr([(e.text, e.data) for e in entries])
        texts = [e.text for e in entries]
        assert "egress refused: example.com:80 is not on the profile's allowlist" in texts
        assert any("HTTP Error 403" in t for t in texts)  # the agent's own view of it

        llm_server.enqueue(reply("It holds one line."))
        await engine.follow_up(done.id, "what is in it?")
        again = await wait_done(engine, done.id, timeout=180)
        entries = await engine.get_logs(done.id, limit=None)
        assert again.state == TaskState.SUCCEEDED, (again.error, [e.text for e in entries])
        assert again.session_id == done.session_id
        assert not [e for e in entries if e.kind is EntryKind.ERROR and e.attempt == 2]
        history = json.dumps(llm_server.llm_requests()[-1].body)
        assert "Writing it." in history and "what is in it?" in history  # resumed
    finally:
        await engine.close()


def test_the_offline_build_keeps_an_image_of_its_own_recipe(docker_client, agent_image) -> None:
    """`make test` builds the image once: ``--if-missing`` keeps it while the recipe holds."""
    if not has_recipe(docker_client, AGENT_IMAGE, offline_recipe()):
        pytest.skip(f"{AGENT_IMAGE} was not built from this recipe (built another way)")
    done = subprocess.run([sys.executable, "-m", "agentdeck.cli.main", "image", "build", "--offline",
                           "--if-missing"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout
    assert docker_client.images.get(AGENT_IMAGE).id == agent_image.id
    assert not has_recipe(docker_client, AGENT_IMAGE, offline_recipe("trixie"))


def test_every_agent_cli_runs_in_the_image_as_the_sandbox_user(docker_client,
                                                               agent_image) -> None:
    """Claude Code, Codex, Gemini CLI (on Node.js 20) and Aider, at the pinned versions."""
    script = ("node --version; claude --version; codex --version; gemini --version; "
              "aider --version")
    out = docker_client.containers.run(
        AGENT_IMAGE, ["sh", "-c", script], user="1000:1000", network_mode="none",
        remove=True, stderr=True).decode()
    versions = [package.rpartition("@")[2] for package in AGENT_NPM_PACKAGES]
    for wanted in [NODE_VERSION, *versions, AIDER_PACKAGE.partition("==")[2]]:
        assert wanted in out, (wanted, out)


AIDER_PROFILE = """
[profiles.aider]
kind = "aider"
command = ["aider", "--message", "{{prompt}}", "--yes-always", "--no-auto-commits", "--no-git",
           "--no-pretty", "--no-stream", "--no-check-update", "--no-show-model-warnings",
           "--analytics-disable"]
env = ["OPENAI_API_KEY"]
secrets = ["OPENAI_API_KEY"]
image = "{image}"
network = true

[profiles.aider.options]
egress = ["{target}"]
model = "openai/gpt-4o"
edit_format = "whole"
extra_args = ["--openai-api-base", "{base}"]
"""


async def test_aider_in_a_container_edits_through_the_proxy(
        tmp_path, agent_image, llm_server: LLMServer, monkeypatch) -> None:
    """Aider from the image's own venv, its model API reached only through the proxy."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "agents.toml").write_text(AIDER_PROFILE.format(
        image=AGENT_IMAGE, target=llm_server.url.removeprefix("http://"),
        base=llm_server.base_url))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-aider")
    llm_server.enqueue(reply("hello.txt\n```\nhello\n```\n", input_tokens=2500,
                             output_tokens=120))
    repo = make_repo(tmp_path / "repo")
    engine = await open_engine(home, default_runtime="docker")
    try:
        done, entries = await _create_hello(engine, repo, "aider")
        patch = await engine.get_patch(done.id)
        assert "+hello" in patch and ".aider" not in patch
        assert [e for e in entries if e.kind is EntryKind.FILE_EDIT]
        assert done.tokens_in == 2500
        assert "sk-test-aider" not in repr([(e.text, e.data) for e in entries])
    finally:
        await engine.close()


#: The docker runtime copies no home_files: the setup writes Gemini's settings instead.
GEMINI_PROFILE = """
[profiles.gemini]
image = "{image}"
setup = '''mkdir -p ~/.gemini && echo '{settings}' > ~/.gemini/settings.json'''

[profiles.gemini.options]
egress = ["generativelanguage.googleapis.com:443"]
model = "gemini-2.5-pro"
"""


async def test_gemini_in_a_container_writes_through_the_proxy(
        tmp_path, agent_image, llm_server: LLMServer, monkeypatch) -> None:
    """Gemini CLI of the image, its base URL (joining the allowlist) reached through the
    proxy."""
    user_home = tmp_path / "user-home"
    user_home.mkdir()
    env = gemini_env(llm_server, user_home)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", env["GOOGLE_GEMINI_BASE_URL"])
    monkeypatch.setenv("GEMINI_API_KEY", "sk-test-gemini")
    home = tmp_path / "home"
    home.mkdir()
    settings = (user_home / ".gemini" / "settings.json").read_text()
    (home / "agents.toml").write_text(GEMINI_PROFILE.format(image=AGENT_IMAGE, settings=settings))
    llm_server.enqueue(
        reply("Writing it.", tool_call("write_file", {"file_path": "/work/hello.txt",
                                                      "content": "hello\n"}),
              input_tokens=200, output_tokens=40),
        reply("Done: wrote hello.txt", input_tokens=260, output_tokens=10))
    repo = make_repo(tmp_path / "repo")
    engine = await open_engine(home, default_runtime="docker")
    try:
        done, entries = await _create_hello(engine, repo, "gemini")
        assert "+hello" in await engine.get_patch(done.id)
        assert [e for e in entries if e.kind is EntryKind.FILE_EDIT]
        assert done.session_id and (done.tokens_in, done.tokens_out) == (460, 50)
        assert done.cost_usd > 0
        assert "sk-test-gemini" not in repr([(e.text, e.data) for e in entries])
    finally:
        await engine.close()
