"""Data dirs for the doctor tests: a real database with settings, a user agents.toml,
a PATH holding only some programs, a read-only mount."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from agentdeck.engine.store import db as st
from agentdeck.engine.store import writes as wr

#: The Docker setting of a daemon that is not there: a socket path nothing listens on.
def gone_endpoint(tmp_path: Path) -> str:
    return f"gone unix://{tmp_path}/no-docker.sock"


def make_home(path: Path, settings: dict[str, Any] | None = None,
              profiles: str | None = None) -> Path:
    """A data dir with a real (migrated) database holding ``settings``, and ``profiles``
    as its agents.toml."""
    path.mkdir(parents=True, exist_ok=True)
    store = st.Store(st.db_path(path))
    try:
        for key, value in (settings or {}).items():
            store.write_sync(wr.set_setting(key, value))
    finally:
        store.close()
    if profiles is not None:
        (path / "agents.toml").write_text(profiles)
    return path


def bin_dir(path: Path, *programs: str) -> str:
    """A PATH of one dir with links to only these programs (found on the real PATH)."""
    path.mkdir(parents=True, exist_ok=True)
    for program in programs:
        found = shutil.which(program)
        assert found, f"{program} is needed by this test"
        os.symlink(found, path / program)
    return str(path)


def read_only(*argv: str, ro: Path) -> list[str]:
    """``argv`` run in bubblewrap with ``ro`` mounted read-only (a real EROFS, which even
    root cannot write, unlike a chmod)."""
    user = [] if os.geteuid() == 0 else ["--unshare-user"]
    return ["bwrap", *user, "--dev-bind", "/", "/", "--ro-bind", str(ro), str(ro), *argv]


PYTHON = sys.executable
