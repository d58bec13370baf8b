"""A fault harness: real `agentdeck` command lines in subprocesses on one data dir, real
shell agents writing numbered lines, faults injected from outside, and one set of
invariants checked the same way after every fault.

The vocabulary:

- `Deck` is a data dir (``AGENTDECK_HOME``) with a git repo, a signals dir and the
  unconfined shell profile ``fault``. ``deck.cli(...)`` runs a command to its end,
  ``deck.start(...)`` starts one (a `Cli`), ``deck.start_together(cmd, cmd, ...)``
  starts several that enter ``main`` at the same instant, ``deck.submit(*agents)``
  queues `Agent` scripts.
- `Agent` is a script printing ``<tag> line 1`` .. ``<tag> line N``; it can wait at a
  line for a named gate (``deck.open_gate(name)``), and says when it got there
  (``deck.wait_signal``). Its pid is recorded so leftovers can be found.
- Faults: ``cli.kill9()``, ``cli.stop()`` / ``cli.cont()`` (SIGSTOP, SIGCONT),
  ``cli.term()``; ``deck.write_locked()`` holds the database's write lock (nothing can be
  stored: the launch window); a full disk is `tests.smalldisk`.
- ``deck.check(agents)`` asserts the invariants: every task is terminal or still running
  under a live lease holder; every agent's lines are stored once each, in order, all of
  them when it succeeded; the lease is free or held by a live process; once nobody
  drives, no agent or supervisor is left running. Exit codes are `Ended.expect`'s.

Reads during a fault go straight to the database file (task states, the lease: a
command line would open an engine in the middle of the fault); logs and final states are
read through the command line, the way a user sees them.

``AGENTDECK_FAULTS_CODE=<tree>`` runs the command lines of another checkout (say, one
extracted from a commit before a fix, to see a test fail there); a tree from before the
package moved under ``agentdeck/`` runs as ``engine.cli``.
"""
from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import psutil

from tests.engine.enginekit import make_repo

CODE = Path(os.environ.get("AGENTDECK_FAULTS_CODE") or Path(__file__).resolve().parents[2])
CLI_MODULE = "agentdeck.cli.main" if (CODE / "agentdeck/cli/main.py").exists() else "engine.cli"
#: The longest a wait of the harness lasts before it fails saying what it waited for.
PATIENCE = 60.0
TERMINAL = {"succeeded", "failed", "cancelled", "needs_input"}

#: Imports the command line, makes the file argv[1] and enters `main` once a line arrives
#: on stdin (`Deck.start_together`).
_GATED_MAIN = """
import importlib, pathlib, sys
cli = importlib.import_module(sys.argv[2])
pathlib.Path(sys.argv[1]).touch()
sys.stdin.readline()
sys.exit(cli.main(sys.argv[3:]))
"""


@dataclass(frozen=True)
class Ended:
    """How a command line ended."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def expect(self, code: int, *texts: str) -> Ended:
        """Assert the exit code, that each of ``texts`` was printed, and no traceback."""
        where = f"`agentdeck {' '.join(self.args)}` ended {self.code}:\n{self.out}\n{self.err}"
        assert self.code == code, where
        assert "Traceback" not in self.err, where
        for text in texts:
            assert text in self.out + self.err, f"{text!r} missing: {where}"
        return self


class Cli:
    """One running `agentdeck` process; its output is collected as it comes."""

    def __init__(self, popen: subprocess.Popen, args: tuple[str, ...]) -> None:
        self.popen, self.args = popen, args
        self._out: list[str] = []
        self._err: list[str] = []
        self._readers = [threading.Thread(target=_collect, args=(stream, lines), daemon=True)
                         for stream, lines in ((popen.stdout, self._out),
                                               (popen.stderr, self._err))]
        for reader in self._readers:
            reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def printed(self, text: str) -> bool:
        """Whether ``text`` is in what it printed so far (stdout or stderr)."""
        return any(text in line for line in [*self._out, *self._err])

    def kill9(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()

    def stop(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def cont(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def term(self) -> None:
        self.popen.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = PATIENCE) -> Ended:
        """Its end; a process still running after ``timeout`` is killed and the test fails."""
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            for reader in self._readers:
                reader.join()
            raise AssertionError(f"`agentdeck {' '.join(self.args)}` did not end within "
                                 f"{timeout:.0f} s: {''.join(self._err)}") from None
        for reader in self._readers:
            reader.join()
        return Ended(self.args, self.popen.returncode, "".join(self._out), "".join(self._err))

    def reap(self) -> None:
        """At teardown: a process the test left running is killed (its agents are not)."""
        if self.alive():
            self.cont()
            self.popen.kill()
        self.wait()


def _collect(stream, lines: list[str]) -> None:
    for line in stream:
        lines.append(line)
    stream.close()


@dataclass(frozen=True)
class Agent:
    """A shell agent printing ``<tag> line 1`` .. ``<tag> line <lines>`` on stdout.

    ``gate_at``: after that line it signals ``<tag>.at-<gate>`` and waits for ``gate``
    to open. ``pause`` seconds of sleep every ``every`` lines pace it. ``pad`` x's end
    each line (to fill a disk sooner). ``before``: shell run first (in the working copy).
    ``after``: run at the end.
    """

    tag: str
    lines: int = 100
    gate: str = "go"
    gate_at: int | None = None
    every: int = 0
    pause: float = 0.0
    pad: int = 0
    before: str = ""
    after: str = ""

    @property
    def _padding(self) -> str:
        return " " + "x" * self.pad if self.pad else ""

    def numbers(self, log: list[str]) -> list[int]:
        """The numbers of this agent's lines in ``log``, as they come."""
        line = re.compile(rf"{re.escape(self.tag)} line (\d+){self._padding}")
        return [int(m.group(1)) for text in log if (m := line.fullmatch(text))]

    def script(self, signals: Path) -> str:
        wait = (f'if [ $i -eq {self.gate_at} ]; then touch {signals}/{self.tag}.at-{self.gate}; '
                f'while [ ! -e {signals}/{self.gate} ]; do sleep 0.02; done; fi; '
                if self.gate_at is not None else "")
        pace = (f"if [ $((i % {self.every})) -eq 0 ]; then sleep {self.pause}; fi; "
                if self.every else "")
        return (f"echo $$ >> {signals}/pids; {self.before + '; ' if self.before else ''}"
                f'i=0; while [ $i -lt {self.lines} ]; do i=$((i+1)); '
                f'echo "{self.tag} line $i{self._padding}"; '
                f"{wait}{pace}done{'; ' + self.after if self.after else ''}")


@dataclass
class Deck:
    """A data dir, its repo and signals dir; every process started here is reaped at the
    end (`close`)."""

    root: Path
    started: list[Cli] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)  # agent tag -> task id

    def __post_init__(self) -> None:
        self.home, self.repo, self.signals = (self.root / n for n in ("home", "repo", "signals"))
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.signals.mkdir(exist_ok=True)
        make_repo(self.repo)
        self.add_profile("fault")

    # processes

    def env(self) -> dict[str, str]:
        path = os.pathsep.join(p for p in (str(CODE), os.environ.get("PYTHONPATH")) if p)
        return {**os.environ, "AGENTDECK_HOME": str(self.home), "PYTHONPATH": path}

    def start(self, *args: str) -> Cli:
        """`agentdeck ARGS...` in a subprocess."""
        return self._spawn(["-m", CLI_MODULE, *args], args)

    def start_together(self, *commands: Sequence[str]) -> list[Cli]:
        """One `agentdeck ARGS...` process per command, entering the command line's
        ``main`` at the same instant (each imports it first, then waits for the go)."""
        ready = [self.signals / f"imported-{time.monotonic_ns()}-{n}"
                 for n in range(len(commands))]
        clis = [self._spawn(["-c", _GATED_MAIN, str(r), CLI_MODULE, *args], tuple(args),
                            stdin=True) for r, args in zip(ready, commands)]
        for cli, imported in zip(clis, ready):
            self.wait(imported.exists, "a process to import the command line", cli)
        for cli in clis:
            cli.popen.stdin.write("go\n")
        for cli in clis:
            cli.popen.stdin.close()
        return clis

    def _spawn(self, argv: list[str], args: tuple[str, ...], stdin: bool = False) -> Cli:
        popen = subprocess.Popen([sys.executable, *argv], env=self.env(), text=True,
                                 stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        cli = Cli(popen, args)
        self.started.append(cli)
        return cli

    def cli(self, *args: str, timeout: float = PATIENCE) -> Ended:
        """`agentdeck ARGS...` run to its end."""
        return self.start(*args).wait(timeout)

    def close(self) -> None:
        for cli in self.started:
            cli.reap()
        self.open_gate("go")
        for proc in self.leftovers():
            with suppress(psutil.NoSuchProcess):
                proc.kill()

    # tasks

    def add_profile(self, name: str, setup: str = "") -> None:
        """An unconfined shell profile (its scripts reach the signals dir)."""
        with open(self.home / "agents.toml", "a") as toml:
            toml.write(f'[profiles.{name}]\nkind = "shell"\ncommand = ["sh", "-c", "{{prompt}}"]\n'
                       f'sandbox = "none"\n' + (f"setup = {json.dumps(setup)}\n" if setup else ""))

    def submit(self, *agents: Agent, profile: str = "fault") -> list[str]:
        """Queue one task per agent (one `agentdeck batch`); their ids, in order."""
        tasks = "".join(f"[[task]]\ntitle = {json.dumps(a.tag)}\n"
                        f"prompt = {json.dumps(a.script(self.signals))}\n" for a in agents)
        batch = self.root / f"batch-{len(self.ids)}.toml"
        batch.write_text(f'agent = "{profile}"\nruntime = "local"\n{tasks}')
        ended = self.cli("batch", str(batch), "--repo", str(self.repo), "--json").expect(0)
        ids = json.loads(ended.out)["ids"]
        self.ids.update(zip((a.tag for a in agents), ids))
        return ids

    def open_gate(self, name: str) -> None:
        (self.signals / name).touch()

    def wait_signal(self, name: str, count: int = 1, *procs: Cli) -> None:
        """Wait for ``count`` files matching ``name`` (a glob) in the signals dir."""
        self.wait(lambda: len(list(self.signals.glob(name))) >= count,
                  f"{count} × {name}", *procs)

    # reads during a fault: the database file, read-only

    def query(self, sql: str, *args: object) -> list[tuple]:
        conn = sqlite3.connect(f"file:{self.home / 'agentdeck.sqlite3'}?mode=ro", uri=True,
                               timeout=PATIENCE)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def state(self, task_id: str) -> str:
        return self.query("SELECT state FROM tasks WHERE id=?", task_id)[0][0]

    def states(self) -> set[str]:
        return {state for (state,) in self.query("SELECT state FROM tasks")}

    def lease_pid(self) -> int | None:
        """The pid holding an unexpired queue lease (None: nobody, or no database yet)."""
        try:
            rows = self.query("SELECT pid, expires_at FROM lease WHERE id=1")
        except sqlite3.OperationalError:  # no file or no table yet
            return None
        return rows[0][0] if rows and rows[0][1] > time.time() else None

    @contextmanager
    def write_locked(self) -> Iterator[sqlite3.Connection]:
        """Hold the database's write lock: no process can store anything meanwhile."""
        conn = sqlite3.connect(self.home / "agentdeck.sqlite3", timeout=PATIENCE,
                               isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    def wait(self, predicate: Callable[[], bool], what: str, *procs: Cli,
             timeout: float = PATIENCE) -> None:
        """Wait for ``predicate``; fail saying ``what`` (or how one of ``procs`` ended)."""
        end = time.monotonic() + timeout
        while not predicate():
            for cli in procs:
                if not cli.alive():
                    ended = cli.wait()
                    raise AssertionError(f"waiting for {what}: `agentdeck "
                                         f"{' '.join(cli.args)}` ended first ({ended.code}): "
                                         f"{ended.err}")
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)

    # reads as the user sees them: the command line

    def tasks(self) -> dict[str, dict]:
        return {t["id"]: t for t in json.loads(self.cli("list", "--json").expect(0).out)}

    def lines(self, task_id: str) -> list[str]:
        """The task's log as `agentdeck logs --raw` prints it."""
        return self.cli("logs", "--raw", task_id).expect(0).out.splitlines()

    def leftovers(self) -> list[psutil.Process]:
        """Agents and supervisors of this data dir still running (their cwd or command
        line is in it), and recorded agent pids."""
        pids = {int(p) for p in (self.signals / "pids").read_text().split()} \
            if (self.signals / "pids").exists() else set()
        found = []
        for proc in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
            info = proc.info
            if info["status"] == psutil.STATUS_ZOMBIE:
                continue
            mine = info["pid"] in pids or str(self.home) in " ".join(info["cmdline"] or ()) \
                or (info["cwd"] or "").startswith(str(self.home))
            if mine:
                found.append(proc)
        return found

    # the invariants

    def check(self, *agents: Agent, succeeded: bool = True) -> dict[str, dict]:
        """Assert the invariants for the tasks of ``agents`` (`submit`-ed here); with
        ``succeeded``, each that ended must have succeeded. Returns the tasks."""
        holder = self.lease_pid()
        assert holder is None or psutil.pid_exists(holder), f"the lease is held by dead {holder}"
        tasks = self.tasks() if agents else {}
        for agent in agents:
            task = tasks[self.ids[agent.tag]]
            state = task["state"]
            running = state in ("running", "preparing") and holder is not None
            assert state in TERMINAL or running, f"{agent.tag}: {state} with no holder: {task}"
            log = self.lines(task["id"])
            numbers = agent.numbers(log)
            assert numbers == list(range(1, len(numbers) + 1)), \
                f"{agent.tag}: lines lost, repeated or out of order: {_gaps(numbers)}"
            if succeeded and state in TERMINAL:
                assert state == "succeeded", f"{agent.tag}: {state} ({task['error']})"
                assert len(numbers) == agent.lines, f"{agent.tag}: {len(numbers)} lines stored"
        if holder is None:
            self.wait(lambda: not self.leftovers(), "no agent process left running",
                      timeout=10)
        return tasks


def _gaps(numbers: list[int]) -> str:
    seen: dict[int, int] = {}
    for n in numbers:
        seen[n] = seen.get(n, 0) + 1
    top = max(numbers, default=0)
    missing = [n for n in range(1, top + 1) if n not in seen]
    repeated = [n for n, count in seen.items() if count > 1]
    return f"{len(numbers)} lines, missing {missing[:10]}…, repeated {repeated[:10]}…"
