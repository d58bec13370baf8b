"""Cold start of the installed program: process start → first frame of the main window,
with 10 000 tasks in history, against ``python -c "import PySide6.QtWidgets"`` in the
same run (interleaved). Goal: within 1.5 s of that import.

The program is started with ``--quit-after-first-frame`` (it prints ``first frame`` when
the window has painted, then quits) on a data dir filled beforehand. By default this
checkout's wheel is built and installed into a fresh venv (a minute or two) and its
``agentdeck-gui`` is measured; ``--program`` measures another build, e.g. the frozen one:

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/cold_start.py
        [--program "dist/agentdeck/agentdeck" --python /usr/bin/python3] [--runs 5]

``--python`` is the interpreter (with PySide6) of the reference import; by default the
wheel venv's, or this one's with ``--program``. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.history import generate  # noqa: E402
from tests.install.wheelkit import build_and_install  # noqa: E402

TASKS = 10_000
GOAL_S = 1.5
START_TIMEOUT = 120


def first_frame_s(program: list[str], env: dict[str, str]) -> float:
    """Seconds from starting ``program`` until it says its window painted."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([*program, "--quit-after-first-frame"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        for line in proc.stdout:
            if line.strip() == "first frame":
                return time.perf_counter() - t0
        raise SystemExit(f"cold_start: {shlex.join(program)} exited {proc.wait()} "
                         "without showing its window")
    finally:
        proc.stdout.close()
        proc.wait(timeout=START_TIMEOUT)


def import_s(python: str) -> float:
    """Seconds ``python -c "import PySide6.QtWidgets"`` takes, start to exit."""
    t0 = time.perf_counter()
    subprocess.run([python, "-c", "import PySide6.QtWidgets"], check=True)
    return time.perf_counter() - t0


def measure(program: list[str], python: str, home: Path, runs: int) -> dict:
    env = {**os.environ, "AGENTDECK_HOME": str(home)}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.pop("PYTHONPATH", None)  # the program runs its own installed code
    first_frame_s(program, env)  # warm-up: the page cache, the data dir's first open
    starts, imports = [], []
    for _ in range(runs):
        imports.append(import_s(python))
        starts.append(first_frame_s(program, env))
    start, reference = statistics.median(starts), statistics.median(imports)
    return {
        "benchmark": "cold_start", "program": shlex.join(program), "tasks": TASKS, "runs": runs,
        "first_frame_s": round(start, 3), "import_qtwidgets_s": round(reference, 3),
        "over_import_s": round(start - reference, 3), "first_frame_max_s": round(max(starts), 3),
        "goal_over_import_s": GOAL_S, "ok": start - reference <= GOAL_S,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--program", help="command starting the GUI (default: build the wheel)")
    parser.add_argument("--python", help="interpreter of the reference import")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentdeck-cold-start-") as scratch:
        root = Path(scratch)
        if args.program:
            program, python = shlex.split(args.program), args.python or sys.executable
        else:
            _, venv = build_and_install(root / "wheel")
            program = [str(venv / "bin" / "agentdeck-gui")]
            python = args.python or str(venv / "bin" / "python")
        generate(root / "home", TASKS, 0)
        result = measure(program, python, root / "home", args.runs)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
