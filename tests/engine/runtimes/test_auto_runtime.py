"""Settling the "auto" runtime imports the Docker SDK off the event loop."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_SCRIPT = """
import asyncio, sys, threading
from pathlib import Path

class Watch:
    threads = []
    def find_spec(self, name, path=None, target=None):
        if name == "agentdeck.engine.runtimes.docker.runtime":
            Watch.threads.append(threading.current_thread() is threading.main_thread())
        return None

sys.meta_path.insert(0, Watch())
from agentdeck.engine.events import EventBus
from agentdeck.engine.runtimes.select import RuntimeRegistry

async def main():
    registry = RuntimeRegistry(Path(sys.argv[1]), EventBus(), "auto", lambda name, until: None)
    settled = await registry.resolve_default()
    print(settled, Watch.threads, registry.auto_reason.split(":")[0])
    await registry.close()

asyncio.run(main())
"""


def test_auto_imports_the_docker_runtime_in_a_thread_and_says_what_it_chose(tmp_path: Path):
    out = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path)], env=dict(os.environ),
                         capture_output=True, text=True, timeout=120, check=True).stdout
    settled, on_main, reason = out.split(" ", 2)
    assert settled in ("docker", "local")
    assert on_main == "[False]", "the Docker runtime was imported on the event loop's thread"
    assert reason.startswith(f"Using the {settled} runtime (auto)")
