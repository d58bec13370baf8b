"""Fixtures of the command-line tests."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.fixture
def cli(tmp_path):
    """Runs `agentdeck` as a real subprocess on a tmp data dir; with ``ok`` (the default)
    it must exit 0."""
    env = {**os.environ, "AGENTDECK_HOME": str(tmp_path / "home")}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "agentdeck.cli.main", *args], env=env,
                              capture_output=True, text=True, timeout=120)
        if ok:
            assert done.returncode == 0, done.stderr
        return done
    return run
