"""Shared helpers for engine tests: real git repos, a real engine on a tmp data dir."""
from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from agentdeck.engine.agents.base import AgentAdapter
from agentdeck.engine.store import db as st
from agentdeck.engine.api import Engine
from agentdeck.engine.logs.masking import Masker
from agentdeck.engine.logs.sink import TaskLog
from agentdeck.engine.models import AgentProfile, LostOutput, Stream, Task, TaskState


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def tree_hash(root: Path, skip_git: bool = True) -> str:
    """A hash of every path, mode, link target and content under ``root``."""
    digest = hashlib.sha256()
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        if skip_git and ".git" in dirs and Path(dirpath) == root:
            dirs.remove(".git")
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]):
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            digest.update(f"{os.path.relpath(path, root)}\0{info.st_mode}\0".encode())
            digest.update(os.readlink(path).encode() if os.path.islink(path)
                          else Path(path).read_bytes())
    return digest.hexdigest()


def repo_state(repo: Path) -> tuple[str, str, str]:
    """HEAD, porcelain status and a hash of the work tree (.git excluded)."""
    return git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain"), tree_hash(repo)


#: A shell agent that writes the prompt it got into received.txt (so the prompt of a
#: follow-up lands in the next diff) and adds a line to notes.txt at every attempt.
RECORDER = '''[profiles.recorder]
kind = "shell"
command = ["sh", "-c", "printf '%s' \\"$1\\" > received.txt; echo \\"attempt $#\\" >> notes.txt",
           "recorder", "{prompt}"]
'''


def make_repo(path: Path, files: dict[str, str] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "dev@example.com")
    git(path, "config", "user.name", "Dev")
    for name, text in (files or {"README.md": "hello\n", "src/app.py": "x = 1\n"}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def profiles_home(home: Path, profiles: str) -> Path:
    """A data dir whose agents.toml holds ``profiles``."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "agents.toml").write_text(profiles)
    return home


def private_refs(home: Path) -> list[str]:
    """Every ref in the engine's private git dirs (where submit keeps task bases)."""
    return [ref for git_dir in sorted((home / "git").glob("*.git"))
            for ref in subprocess.run(["git", "--git-dir", str(git_dir), "for-each-ref",
                                       "--format=%(refname)"], check=True, capture_output=True,
                                      text=True).stdout.split()]


def builtin_home(home: Path, base_url: str, model: str, profile_extra: str = "",
                 provider_extra: str = "") -> Path:
    """A data dir with provider ``fake`` at ``base_url`` (key in $FAKE_LLM_KEY) and a
    built-in agent profile ``bot`` using it."""
    home.mkdir(exist_ok=True)
    (home / "providers.toml").write_text(
        f'[providers.fake]\nkind = "openai"\nbase_url = "{base_url}"\n'
        f'api_key_env = "FAKE_LLM_KEY"\nkeyring = false\n{provider_extra}')
    (home / "agents.toml").write_text(
        f'[profiles.bot]\nkind = "builtin"\nprovider = "fake"\nmodel = "{model}"\n'
        f'secrets = ["FAKE_LLM_KEY"]\n{profile_extra}')
    return home


async def open_engine(home: Path, **kw) -> Engine:
    if "default_runtime" not in kw:
        kw["default_runtime"] = "local"
    return await Engine.open(home, **kw)


async def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.05)


async def wait_state(engine: Engine, task_id: str, states: set[TaskState],
                     timeout: float = 30.0) -> Task:
    end = time.monotonic() + timeout
    while True:
        task = await engine.get_task(task_id)
        if task.state in states:
            return task
        if time.monotonic() > end:
            tail = [e.text for e in await engine.get_logs(task_id, limit=None)][-12:]
            raise AssertionError(f"task {task_id} stayed {task.state.value} ({task.error}); "
                                 f"its log ends: {tail}")
        await asyncio.sleep(0.05)


async def wait_done(engine: Engine, task_id: str, timeout: float = 30.0) -> Task:
    from agentdeck.engine.models import TERMINAL_STATES
    return await wait_state(engine, task_id, set(TERMINAL_STATES) | {TaskState.NEEDS_INPUT},
                            timeout)


async def run_succeeded(engine: Engine, repo: Path, script: str) -> Task:
    """Submit a shell task and wait until it succeeded (an assertion says why not)."""
    task = await engine.submit(repo, script)
    done = await wait_done(engine, task.id)
    assert done.state == TaskState.SUCCEEDED, done.error
    return done


def stdout_lines(engine: Engine, task_id: str) -> list[str]:
    engine.store.flush()
    return [e.text for e in engine.store.get_logs(task_id, limit=None)
            if e.stream.value == "stdout"]


def kill_engine_mid_run(home: Path, running: int, min_lines: int, timeout: float = 60) -> None:
    """Run `agentdeck run` in a subprocess and SIGKILL it once ``running`` tasks run and
    each stored more than ``min_lines`` log lines (their agents keep running)."""
    env = {**os.environ, "AGENTDECK_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "agentdeck.cli.main", "run", "--max-parallel",
                             str(running)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    store = st.Store(st.db_path(home))
    try:
        deadline = time.time() + timeout
        while time.time() < deadline and proc.poll() is None:
            now = [t for t in store.list_tasks() if t.state == TaskState.RUNNING]
            if len(now) == running and all(store.log_count(t.id) > min_lines for t in now):
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"the engine never ran {running} tasks: "
                                 + proc.stderr.read1().decode())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        store.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


async def log_with_gap(home: Path, repo: Path, lost: LostOutput) -> str:
    """A queued task whose log holds "1", "2", then ``lost`` with "9000", "9001", fed
    to its `TaskLog` as a runtime does; its id."""
    engine = await open_engine(home, drive_queue=False)
    try:
        task = await engine.submit(repo, "noop", runtime="local")
        log = TaskLog(task.id, 1, await engine.seq_counter(task.id), store=engine.store,
                      bus=engine.bus, adapter=AgentAdapter(AgentProfile("plain")),
                      masker=Masker(), on_facts=lambda *_: None)
        log(Stream.STDOUT, ["1", "2"], "before")
        log(Stream.STDOUT, ["9000", "9001"], "after", lost)
        await asyncio.to_thread(engine.store.flush)
    finally:
        await engine.close()
    return task.id
