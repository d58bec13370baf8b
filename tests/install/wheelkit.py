"""Build this checkout's wheel and install it into a fresh venv, as a user would (shared by
tests/install/test_installed_wheel.py and benchmarks/cold_start.py)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 900


def checkout_copy(dest: Path) -> Path:
    """The checkout's files as git sees them (tracked or new, not ignored): no stale build/
    or egg-info of a developer's tree goes into the wheel."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def check(*argv: str | Path) -> None:
    """Run ``argv``; fail with its output unless it exits 0."""
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=INSTALL_TIMEOUT)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))}:\n{done.stdout}\n{done.stderr}")


def build_and_install(base: Path) -> tuple[Path, Path]:
    """Build the wheel (not editable) under ``base`` and install it, with its dependencies
    from the package index, into the new venv ``base/venv``; return (wheel, venv)."""
    source = checkout_copy(base / "source")
    check(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", base / "dist", source)
    wheel = next((base / "dist").glob("agentdeck-*.whl"))
    venv = base / "venv"
    check(sys.executable, "-m", "venv", venv)
    check(venv / "bin" / "python", "-m", "pip", "install", "-q", wheel)
    return wheel, venv
