"""Egress through the whole engine: a containerized agent reaches its API host through the
proxy; anything else is refused and the refusal is in the task's log."""
from __future__ import annotations

import socket
import threading

import pytest

from agentdeck.engine.runtimes.docker.images import TEST_IMAGE
from agentdeck.engine.models import EntryKind, TaskState
from tests.engine.enginekit import make_repo, open_engine, stdout_lines, wait_done
from tests.fakes.llm_server import LLMServer
from tests.integration.test_egress import ASK

pytestmark = pytest.mark.docker


def _netshell_home(tmp_path, *extra: str):
    """A data dir whose profile `netshell` runs sh in the test image on the egress network."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "agents.toml").write_text(
        f'[profiles.netshell]\nkind = "shell"\ncommand = ["sh", "-c", "{{prompt}}"]\n'
        f'image = "{TEST_IMAGE}"\nmemory = "64m"\nnetwork = true\n'
        'options = { egress = [] }\n' + "".join(f"{line}\n" for line in extra))
    return home


async def test_api_host_through_the_proxy_the_rest_refused_and_logged(tmp_path, docker_client,
                                                                      monkeypatch):
    with LLMServer() as server:
        target = server.url.removeprefix("http://")
        # The API host comes from the *_BASE_URL variable the agent gets, not the list.
        home = _netshell_home(tmp_path, 'env = ["FAKE_BASE_URL"]')
        monkeypatch.setenv("FAKE_BASE_URL", server.url)
        script = ASK + (f"ask 'GET {server.url}/v1/models HTTP/1.1\\r\\nHost: {target}\\r\\n\\r\\n'\n"
                        "ask 'CONNECT example.com:443 HTTP/1.1\\r\\n\\r\\n'\n")
        engine = await open_engine(home, default_runtime="docker")
        try:
            task = await engine.submit(make_repo(tmp_path / "repo"), script, agent="netshell")
            done = await wait_done(engine, task.id, timeout=120)
            assert done.state == TaskState.SUCCEEDED, done.error
            out = stdout_lines(engine, task.id)
            assert out[0] == "HTTP/1.1 200 OK" and out[1].startswith("HTTP/1.1 403")
            errors = [e.text for e in await engine.get_logs(task.id, limit=None)
                      if e.kind == EntryKind.ERROR]
            assert errors == ["egress refused: example.com:443 is not on the profile's allowlist"]
            assert len(server.requests) == 1
        finally:
            await engine.close()


async def test_host_services_are_not_reachable_from_the_egress_network(tmp_path, monkeypatch):
    """A service on 0.0.0.0 of the host answers on the gateway address too: the host guard
    must drop that, while the proxy port stays open."""
    listener = socket.create_server(("0.0.0.0", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"HOST SERVICE\n")
            accepted.append(True)

    stop = threading.Event()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    home = _netshell_home(tmp_path)
    script = ("p=${HTTP_PROXY#http://}; "
              f"nc -w 3 ${{p%:*}} {port} </dev/null; echo direct=$?; "
              "printf 'CONNECT example.com:443 HTTP/1.1\\r\\n\\r\\n' | nc -w 5 ${p%:*} ${p#*:} "
              "| head -1 | tr -d '\\r'")
    engine = await open_engine(home, default_runtime="docker")
    try:
        task = await engine.submit(make_repo(tmp_path / "repo"), script, agent="netshell")
        done = await wait_done(engine, task.id, timeout=120)
        assert done.state == TaskState.SUCCEEDED, done.error
        out = stdout_lines(engine, task.id)
        assert "HOST SERVICE" not in out and out[0] != "direct=0", out
        assert out[1].startswith("HTTP/1.1 403"), "the proxy port stays reachable"
        assert accepted == []
    finally:
        stop.set()
        thread.join()
        listener.close()
        await engine.close()


async def test_setup_runs_on_the_open_network_the_agent_behind_the_proxy(tmp_path):
    home = _netshell_home(tmp_path, 'setup = "echo setup proxy=[$HTTP_PROXY]"')
    engine = await open_engine(home, default_runtime="docker")
    try:
        task = await engine.submit(make_repo(tmp_path / "repo"),
                                   'echo agent proxy set=$([ -n "$HTTP_PROXY" ] && echo yes)',
                                   agent="netshell")
        done = await wait_done(engine, task.id, timeout=120)
        assert done.state == TaskState.SUCCEEDED, done.error
        assert stdout_lines(engine, task.id) == ["setup proxy=[]", "agent proxy set=yes"]
    finally:
        await engine.close()
