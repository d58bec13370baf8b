"""A deterministic monorepo-sized git repository for the workspace benchmarks.

`make_scale_repo(path)` builds the same repo on every machine: ``files`` text files of
varying size (default 50 000 files, about 400 MB) spread over nested folders, written with
one ``git fast-import`` (fast) and then checked out, so the result is an ordinary repo
with one commit on ``main`` and a full working tree.
"""
from __future__ import annotations

import random
import subprocess
from pathlib import Path

FILES = 50_000
MEAN_SIZE = 8_000
_WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron "
          "pi rho sigma tau upsilon phi chi psi omega return yield import class def self "
          "value count index buffer stream parse render update commit branch").split()


def scale_paths(files: int = FILES) -> list[str]:
    """The file names: ``pkgNN/modNN/file_NNNNN.py`` (about 100 files per folder)."""
    return [f"pkg{i % 50:02d}/mod{(i // 50) % 10:02d}/file_{i:05d}.py" for i in range(files)]


def _content(rng: random.Random, index: int, mean_size: int) -> bytes:
    size = max(64, int(rng.expovariate(1 / mean_size)))
    words = rng.choices(_WORDS, k=size // 6 + 1)
    lines = [" ".join(words[i:i + 12]) for i in range(0, len(words), 12)]
    return (f"# file {index}\n" + "\n".join(lines) + "\n").encode()[:size] + b"\n"


def make_scale_repo(path: Path, files: int = FILES, mean_size: int = MEAN_SIZE,
                    seed: int = 11) -> Path:
    """Create the repo at ``path`` (absent or empty) and return it."""
    path.mkdir(parents=True, exist_ok=True)
    env_git = ["git", "-C", str(path), "-c", "core.hooksPath=/dev/null"]
    subprocess.run([*env_git, "init", "-q", "--initial-branch=main"], check=True)
    rng = random.Random(seed)
    stream = [b"commit refs/heads/main\n",
              b"committer bench <bench@localhost> 1700000000 +0000\n",
              b"data 12\nscale repo\n\n"]
    for index, name in enumerate(scale_paths(files)):
        data = _content(rng, index, mean_size)
        stream.append(f"M 100644 inline {name}\ndata {len(data)}\n".encode() + data + b"\n")
    subprocess.run([*env_git, "fast-import", "--quiet"], input=b"".join(stream), check=True)
    subprocess.run([*env_git, "checkout", "-q", "-f", "main"], check=True)
    return path
