"""Run the git CLI with an environment and options the engine controls.

Two kinds of calls exist. *Trusted* calls run in the user's repository: the user's own
config applies, but hooks and fsmonitor are switched off. *Isolated* calls touch content an
agent wrote (its working copy, the engine's private git dir): no system or global config,
no hooks, no fsmonitor, no external diff or textconv, so no file the agent wrote can make
git run a command.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from agentdeck.engine.errors import RepoError

# Always on: nothing in a repository (ours or the user's) may run a program through git.
_SAFE_OPTIONS = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")
_ISOLATED_OPTIONS = (
    "-c", "core.symlinks=true",
    "-c", "core.autocrlf=false",
    "-c", "gc.auto=0",
    "-c", "maintenance.auto=false",
    "-c", "advice.addEmbeddedRepo=false",
)
# What the user's environment may say about trusted calls: which config files are theirs
# and who they are. Every other GIT_* variable (GIT_DIR from a hook, ...) is dropped.
_TRUSTED_ENV = frozenset({
    "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM",
    "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
})


def _base_env(isolated: bool) -> dict[str, str]:
    keep = frozenset() if isolated else _TRUSTED_ENV
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in keep}
    env.update(LC_ALL="C", LANGUAGE="C", GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
    if isolated:
        # No user-level config, ignore or attributes files either: what the agent changed
        # must not depend on (or be hidden by) anybody's personal settings.
        env.pop("XDG_CONFIG_HOME", None)
        env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", HOME="/nonexistent")
    return env


@dataclass(frozen=True)
class Git:
    """A configured git command line; `run` executes one git subcommand.

    Attributes:
        cwd: Directory to run in (the user's repo for trusted calls).
        git_dir: ``--git-dir`` to use instead of discovering one.
        work_tree: ``--work-tree`` to use with ``git_dir``.
        isolated: Ignore system/global config and pin the options above.
        env: Extra environment (GIT_INDEX_FILE, identities, object directories).
        config: Extra ``-c key=value`` settings.
    """

    cwd: Path | None = None
    git_dir: Path | None = None
    work_tree: Path | None = None
    isolated: bool = True
    env: tuple[tuple[str, str], ...] = ()
    config: tuple[str, ...] = ()

    def with_env(self, **extra: str | os.PathLike[str]) -> "Git":
        """A copy of this command line with more environment variables set."""
        return replace(self, env=self.env + tuple((k, os.fspath(v)) for k, v in extra.items()))

    def with_config(self, *settings: str) -> "Git":
        """A copy of this command line with more ``-c key=value`` settings."""
        return replace(self, config=self.config + settings)

    def argv(self, args: Sequence[str | os.PathLike[str]]) -> list[str]:
        """The full argv for ``git <args>``."""
        cmd = ["git", *_SAFE_OPTIONS]
        if self.isolated:
            cmd += _ISOLATED_OPTIONS
        for setting in self.config:
            cmd += ["-c", setting]
        if self.git_dir is not None:
            cmd.append(f"--git-dir={self.git_dir}")
        if self.work_tree is not None:
            cmd.append(f"--work-tree={self.work_tree}")
        return cmd + [os.fspath(a) for a in args]

    def _env(self) -> dict[str, str]:
        env = _base_env(self.isolated)
        env.update(self.env)
        return env

    def run(self, *args: str | os.PathLike[str], input: bytes | None = None,
            stdin: BinaryIO | None = None, stdout: BinaryIO | None = None,
            ok: Sequence[int] = (0,)) -> subprocess.CompletedProcess[bytes]:
        """Run ``git <args>``; raise `RepoError` with git's message on an unexpected exit.

        Args:
            args: The subcommand and its arguments.
            input: Bytes fed to git's stdin.
            stdin: A file fed to git's stdin instead (large data: packs).
            stdout: A file receiving git's stdout instead of capturing it.
            ok: Exit codes that are not failures (``merge-tree`` uses 1 for conflicts).
        """
        proc = subprocess.run(self.argv(args), cwd=self.cwd, env=self._env(), input=input,
                              stdin=stdin, stdout=stdout or subprocess.PIPE,
                              stderr=subprocess.PIPE, check=False)
        if proc.returncode not in ok:
            message = proc.stderr.decode(errors="replace").strip() or f"exit {proc.returncode}"
            raise RepoError(f"git {os.fspath(args[0])} failed in {self.cwd or self.git_dir}: {message}")
        return proc

    def out(self, *args: str | os.PathLike[str], input: bytes | None = None) -> str:
        """Stdout of ``git <args>`` as text, trailing newline removed."""
        return os.fsdecode(self.run(*args, input=input).stdout).rstrip("\n")

    def iter_z(self, *args: str | os.PathLike[str]) -> Iterator[str]:
        """Yield the NUL-separated records of ``git <args>`` as they arrive.

        Stopping early kills git, so a listing of millions of files costs only what
        was read.
        """
        # stderr goes to a file: a pipe nobody reads could fill up and stall git.
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(self.argv(args), cwd=self.cwd, env=self._env(),
                                    stdout=subprocess.PIPE, stderr=err)
            assert proc.stdout is not None
            try:
                pending = b""
                while chunk := proc.stdout.read1(1 << 16):
                    *records, pending = (pending + chunk).split(b"\0")
                    yield from (os.fsdecode(r) for r in records)
                if proc.wait() != 0:
                    err.seek(0)
                    message = err.read().decode(errors="replace").strip()
                    raise RepoError(f"git {os.fspath(args[0])} failed: {message}")
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()
