"""Workspaces at monorepo scale (issue 11): Docker rows, on the 50 000-file repo.

Prints one JSON line. References are taken in the same run, on the same repo:
- ``reference_s``: ``docker run --rm IMAGE true`` + ``git worktree add`` (then removed).
- ``first_line_new_base_s``: submit → first agent line through the engine, the first task
  on a base commit nobody used yet (its base layer is built then); goal ≤ 3 × reference.
- ``first_line_same_base_s``: the same for the 2nd and later tasks on that base (median);
  goal ≤ 1 × reference.
- ``collect_10_files_s``: `Sandbox.collect` of a task that changed 10 files; goal < 1 s.
- ``disk_beyond_change_mb``: that task's data dir + its container's writable layer, less
  the bytes it changed; goal < 50 MB.
- ``ignored_30k``: a task that writes 30 000 files under an ignored node_modules and edits
  one file: succeeded, change captured, nothing ignored copied (and its collect time).
- ``remote_30k``: the same task collected as from a remote daemon (its writable layer is
  not a folder here): through the container's own listing, and through the changes API.

Run: ``python benchmarks/workspace_scale.py`` (the repo is made once, cached in /tmp).
The other rows of the issue (local copies) are measured by the local runtime's part.
"""
from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker  # noqa: E402

from agentdeck.engine.api import Engine  # noqa: E402
from agentdeck.engine.core.trees import tree_source  # noqa: E402
from agentdeck.engine.events import LogAppended  # noqa: E402
from agentdeck.engine.models import AgentProfile, Stream, TaskState  # noqa: E402
from agentdeck.engine.runtimes.base import LaunchSpec, Sandbox  # noqa: E402
from agentdeck.engine.runtimes.docker.archive import CollectLimits  # noqa: E402
from agentdeck.engine.runtimes.docker.baselayer import list_base_images  # noqa: E402
from agentdeck.engine.runtimes.docker.collect import collect_changes  # noqa: E402
from agentdeck.engine.runtimes.docker.images import AGENT_IMAGE  # noqa: E402
from agentdeck.engine.runtimes.docker.runtime import DockerRuntime, Endpoint  # noqa: E402
from agentdeck.engine.workspace import Workspace  # noqa: E402
from benchmarks.scale_repo import scale_repo  # noqa: E402
from tests.integration.remotekit import RemoteView  # noqa: E402

SAME_BASE_RUNS = 3
IMAGE = os.environ.get("AGENTDECK_BENCH_IMAGE", AGENT_IMAGE)
TEN_FILES = " ".join(f"src/pkg000/mod00/file{i:06d}.py" for i in range(10))
EDITED = "src/pkg000/mod00/file000000.py"
IGNORED = ("mkdir -p node_modules/pkg && cd node_modules/pkg && seq 1 30000 | "
           f"xargs touch && cd /work && echo bench >> {EDITED}")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def reference(repo: Path, tmp: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["docker", "run", "--rm", IMAGE, "true"], check=True)
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "-q", "--detach",
                    str(tmp / "wt"), "HEAD"], check=True)
    took = time.perf_counter() - started
    subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tmp / "wt")],
                   check=True)
    return took


def new_base(repo: Path, tmp: Path) -> Path:
    """A clone sharing the big repo's objects, with a commit no base layer holds yet."""
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "-q", "--shared", str(repo), str(clone)], check=True)
    (clone / "BENCH").write_text(f"{time.time()}\n")
    git(clone, "add", "BENCH")
    git(clone, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "bench")
    return clone


async def first_line(engine: Engine, repo: Path, script: str) -> float:
    seen = asyncio.Event()
    task_id = ""

    def on(event: object) -> None:
        if isinstance(event, LogAppended) and event.task_id == task_id and any(
                e.stream == Stream.STDOUT for e in event.entries):
            seen.set()

    engine.bus.subscribe(on)
    started = time.perf_counter()
    task_id = (await engine.submit(repo, script, runtime="docker")).id
    await asyncio.wait_for(seen.wait(), 600)
    took = time.perf_counter() - started
    while (await engine.get_task(task_id)).state not in (TaskState.SUCCEEDED, TaskState.FAILED):
        await asyncio.sleep(0.1)
    task = await engine.get_task(task_id)
    assert task.state == TaskState.SUCCEEDED, task.error
    return took


async def engine_rows(home: Path, repo: Path) -> dict[str, float]:
    (home / "agents.toml").write_text(f'[profiles.shell]\nimage = "{IMAGE}"\n')
    engine = await Engine.open(home, default_runtime="docker", max_parallel=1)
    try:
        first = await first_line(engine, repo, "echo first")
        later = [await first_line(engine, repo, f"echo run {n}") for n in range(SAME_BASE_RUNS)]
    finally:
        await engine.close()
    return {"first_line_new_base_s": round(first, 3),
            "first_line_same_base_s": round(statistics.median(later), 3)}


def du(path: Path) -> int:
    seen: dict[tuple[int, int], int] = {}
    for base, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(base, name))
            seen[(st.st_dev, st.st_ino)] = st.st_blocks * 512
    return sum(seen.values())


async def finished_task(rt: DockerRuntime, ws: Workspace, repo: Path, base: str, name: str,
                        script: str) -> tuple[Sandbox, LaunchSpec]:
    """Run ``script`` from the base layer to its end."""
    workdir = ws.prepare_overlay(name)
    run_dir = ws.home / "runs" / name / "1"
    run_dir.mkdir(parents=True)
    profile = AgentProfile(name="bench", image=IMAGE, memory="1g", disk="2g")
    spec = LaunchSpec(name, 1, ("sh", "-c", script), workdir, profile, run_dir=run_dir,
                      tree=tree_source(ws, str(repo), base))
    sandbox = await rt.start(spec, lambda *a: None)
    outcome = await sandbox.wait()
    assert outcome.exit_code == 0, outcome
    return sandbox, spec


async def runtime_task(rt: DockerRuntime, ws: Workspace, repo: Path, base: str, name: str,
                       script: str) -> tuple[float, Path, int]:
    """Run ``script`` from the base layer; return collect time, workdir, writable bytes."""
    sandbox, spec = await finished_task(rt, ws, repo, base, name, script)
    started = time.perf_counter()
    collected = await sandbox.collect()
    took = time.perf_counter() - started
    layer = subprocess.run(["docker", "inspect", "--size", "-f", "{{.SizeRw}}",
                            sandbox.ref.split("/")[1]], check=True, capture_output=True,
                           text=True).stdout.strip()
    await sandbox.cleanup()
    ws.capture(name, str(repo), base, spec.workdir, collected.removed if collected else ())
    return took, spec.workdir, int(layer or 0)


def copied_files(workdir: Path) -> list[str]:
    return sorted(str(p.relative_to(workdir)) for p in workdir.rglob("*")
                  if p.is_file() and p.relative_to(workdir).parts[0] != ".git")


async def remote_rows(rt: DockerRuntime, ws: Workspace, repo: Path, base: str) -> dict[str, object]:
    """The 30 000-ignored-files task collected as from a remote daemon, both ways."""
    sandbox, spec = await finished_task(rt, ws, repo, base, "bench-remote", IGNORED)
    row: dict[str, object] = {}
    try:
        for way, listing in (("listing", True), ("diff_api", False)):
            view = RemoteView(sandbox.container, listing=listing)
            started = time.perf_counter()
            await asyncio.to_thread(collect_changes, view, spec, CollectLimits(), "bench-remote")
            row[f"collect_{way}_s"] = round(time.perf_counter() - started, 3)
            row[f"{way}_ok"] = (copied_files(spec.workdir) == [EDITED]
                                and view.diff_calls == (0 if listing else 1))
    finally:
        await sandbox.cleanup()
    return row


async def runtime_rows(home: Path, repo: Path) -> dict[str, object]:
    ws = Workspace(home)
    base = ws.snapshot("bench-ten", repo)
    ws.snapshot("bench-ignored", repo)
    ws.snapshot("bench-remote", repo)
    rt = DockerRuntime([Endpoint("local", None, 4)], home=home, image=IMAGE)
    try:
        before = du(home)
        ten = f"for f in {TEN_FILES}; do echo bench >> $f; done"
        took, workdir, layer = await runtime_task(rt, ws, repo, base, "bench-ten", ten)
        changed = sum((workdir / f).stat().st_size for f in TEN_FILES.split())
        disk = du(home) - before + layer - changed
        took_ignored, ignored_dir, _ = await runtime_task(rt, ws, repo, base, "bench-ignored",
                                                          IGNORED)
        copied = copied_files(ignored_dir)
        remote = await remote_rows(rt, ws, repo, base)
    finally:
        await rt.close()
    return {"collect_10_files_s": round(took, 3),
            "disk_beyond_change_mb": round(disk / 2**20, 1),
            "ignored_30k": {"succeeded": copied == [EDITED],
                            "copied": len(copied), "collect_s": round(took_ignored, 3)},
            "remote_30k": remote}


async def main() -> None:
    repo = scale_repo()
    files = int(git(repo, "ls-files").count("\n")) + 1
    with tempfile.TemporaryDirectory(prefix="agentdeck-wsbench-") as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        home.mkdir()
        try:
            clone = new_base(repo, tmp)
            ref = statistics.median(reference(clone, tmp) for _ in range(3))
            rows = await engine_rows(home, clone)
            print(f"reference {ref:.3f} s, engine rows {rows}", file=sys.stderr, flush=True)
            rows.update(await runtime_rows(home, clone))
        finally:
            client = docker.from_env()
            for image in list_base_images(client, str(home)):
                client.images.remove(image.tag, force=True)
    print(json.dumps({
        "benchmark": "workspace_scale_docker", "repo_files": files, "image": IMAGE,
        "reference_s": round(ref, 3), **rows,
        "ratio_new_base": round(rows["first_line_new_base_s"] / ref, 2),
        "ratio_same_base": round(rows["first_line_same_base_s"] / ref, 2),
        "goals": {"ratio_same_base": "<= 1.0", "ratio_new_base": "<= 3",
                  "collect_10_files_s": "< 1", "disk_beyond_change_mb": "< 50"}}))


if __name__ == "__main__":
    asyncio.run(main())
