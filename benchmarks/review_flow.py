"""The review flow of issue 12 in one run: `n` to the next waiting task (review_next.py),
accepting a 500-file change (review_accept.py) and landing 10 tasks with a 1 s test command
(review_land.py). Each part measures its own reference in the same run; this runs them one
after another, so they do not load the machine for each other, and prints one JSON line
holding the three figures and whether each goal is met.

Run: .venv/bin/python benchmarks/review_flow.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PARTS = ("review_next", "review_accept", "review_land")
HERE = Path(__file__).resolve().parent


def _run(part: str) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    done = subprocess.run([sys.executable, str(HERE / f"{part}.py")], env=env,
                          capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"benchmark": part, "error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def main() -> None:
    parts = {part: _run(part) for part in PARTS}
    print(json.dumps({"benchmark": "review_flow", **parts,
                      "goals_met": all(p.get("goal_met") is True for p in parts.values())}))


if __name__ == "__main__":
    main()
