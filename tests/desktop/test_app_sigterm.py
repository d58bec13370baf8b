"""SIGTERM to the desktop app (a logout, `kill`): it quits like a closed window does, the
engine closes and the queue lease is released."""
from __future__ import annotations

import signal
import subprocess
import sys

from tests.engine.processkit import cli_env, finish, lease_held, poll, reap


def test_sigterm_quits_the_app_and_releases_the_lease(tmp_path):
    home = tmp_path / "home"
    env = {**cli_env(home), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-m", "agentdeck.desktop"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        poll(lambda: lease_held(home), 60, "the app's engine to drive the queue", proc)
        proc.send_signal(signal.SIGTERM)
        code, _, err = finish(proc)
        assert code == 0, err
        assert not lease_held(home), "the lease is released"
    finally:
        reap(proc)
