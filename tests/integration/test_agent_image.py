"""Real Claude Code inside the full agent image, through the engine, behind the egress proxy:
its API calls pass, its own connection elsewhere is refused and shown in the task log.

Needs the agent image (`agentdeck image build --offline`, about 3 minutes); skipped,
saying so, where it has not been built.
"""
from __future__ import annotations

import json
import subprocess
import sys

import docker.errors
import pytest

from engine.images import AGENT_IMAGE, has_recipe, offline_recipe
from engine.models import EntryKind, TaskState
from tests.engine.enginekit import make_repo, open_engine, wait_done
from tests.fakes.llm_server import LLMServer, llm_server  # noqa: F401 - fixture
from tests.fakes.scripts import reply, tool_call
from tests.integration.test_real_cli_agents import _answers_tool, _offers

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
def home(tmp_path, docker_client, llm_server: LLMServer, monkeypatch):
    try:
        docker_client.images.get(AGENT_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip(f"{AGENT_IMAGE} is not built here ('agentdeck image build --offline')")
    home = tmp_path / "home"
    home.mkdir()
    (home / "agents.toml").write_text(PROFILE)
    for name, value in {"ANTHROPIC_API_KEY": "sk-test-image", "DISABLE_TELEMETRY": "1",
                        "ANTHROPIC_BASE_URL": llm_server.url,
                        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}.items():
        monkeypatch.setenv(name, value)
    return home


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
        task = await engine.submit(repo, "create hello.txt", agent="claude")
        done = await wait_done(engine, task.id, timeout=180)
        entries = await engine.get_logs(task.id, limit=None)
        assert done.state == TaskState.SUCCEEDED, (done.error, [e.text for e in entries])
        assert done.runtime == "docker" and done.session_id
        assert "+hello" in await engine.get_patch(task.id)
        assert "sk-test-image" not in repr([(e.text, e.data) for e in entries])
        texts = [e.text for e in entries]
        assert "egress refused: example.com:80 is not on the profile's allowlist" in texts
        assert any("HTTP Error 403" in t for t in texts)  # the agent's own view of it

        llm_server.enqueue(reply("It holds one line."))
        await engine.follow_up(task.id, "what is in it?")
        again = await wait_done(engine, task.id, timeout=180)
        entries = await engine.get_logs(task.id, limit=None)
        assert again.state == TaskState.SUCCEEDED, (again.error, [e.text for e in entries])
        assert again.session_id == done.session_id
        assert not [e for e in entries if e.kind is EntryKind.ERROR and e.attempt == 2]
        history = json.dumps(llm_server.llm_requests()[-1].body)
        assert "Writing it." in history and "what is in it?" in history  # resumed
    finally:
        await engine.close()


def test_the_offline_build_keeps_an_image_of_its_own_recipe(docker_client) -> None:
    """`make test` builds the image once: ``--if-missing`` keeps it while the recipe holds."""
    try:
        image = docker_client.images.get(AGENT_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip(f"{AGENT_IMAGE} is not built here ('agentdeck image build --offline')")
    if not has_recipe(docker_client, AGENT_IMAGE, offline_recipe()):
        pytest.skip(f"{AGENT_IMAGE} was not built from this recipe (built another way)")
    done = subprocess.run([sys.executable, "-m", "engine.cli", "image", "build", "--offline",
                           "--if-missing"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout
    assert docker_client.images.get(AGENT_IMAGE).id == image.id
    assert not has_recipe(docker_client, AGENT_IMAGE, offline_recipe("trixie"))
