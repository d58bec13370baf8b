"""Regenerate the screenshots of docs/user-guide.md.

Runs the real app (real engine, shell agents on a throw-away git repo) offscreen and
grabs the main window on the Tasks and Wall tabs (light and dark) and the Review,
Reports and Storage tabs, a review with a hunk left out, a best-of-N compare, the batch
dialog and the "Accept approved…" dialog.

The "agents" are shell scripts run through a profile of the Claude Code kind, so that the
result line each prints at the end gives the task a cost (for the report's charts).

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots/make_screenshots.py
"""
from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

import qasync
from PySide6.QtWidgets import QApplication

from agentdeck.desktop.app import Session
from agentdeck.engine.batch.file import BatchSpec, TaskSpec
from agentdeck.engine.models import ReviewState, TaskState

OUT = Path(__file__).resolve().parent

REPO_FILES = {
    "README.md": "# inventory\n\nA small inventory service.\n",
    "src/inventory/models.py": "class Item:\n    def __init__(self, name, qty):\n        self.name = name\n        self.qty = qty\n",
    "src/inventory/api.py": "def list_items(db):\n    return db.all()\n",
    "tests/test_api.py": "def test_list():\n    assert True\n",
    "src/inventory/store.py": "".join(
        f"def {name}(db, key):\n    \"\"\"{name.title()} one entry.\"\"\"\n    return db.{name}(key)\n\n\n"
        for name in ("get", "put", "delete", "touch", "expire", "count", "scan")),
}

#: Profiles whose prompt is a shell script and whose output is read like Claude Code's;
#: each sets $VARIANT (the best-of-N attempts differ by it).
AGENTS = ("script-a", "script-b", "script-c")
PROFILE = "".join(
    f'[profiles.{name}]\nkind = "claude_code"\n'
    'description = "a shell script that reports its cost like Claude Code"\n'
    # the adapter adds Claude's flags before the prompt: run the last argument
    f'command = ["sh", "-c", "VARIANT={n}; for last; do :; done; eval \\"$last\\"", "{{prompt}}"]\n'
    for n, name in enumerate(AGENTS))
AGENT = AGENTS[0]


def spent(script: str, cost: float, seconds: float = 0.0) -> str:
    """``script``, then a pause and the result line that gives the task its cost."""
    result = ('{"type":"result","subtype":"success","num_turns":4,"total_cost_usd":%s,'
              '"usage":{"input_tokens":%d,"output_tokens":%d}}'
              % (cost, int(cost * 90_000), int(cost * 9_000)))
    return f"{script}; sleep {seconds}; echo '{result}'"


# Shell "agents" that talk like real ones: they print what they do, then edit files.
CHATTY = ("for f in models api store cli; do echo \"Reading src/inventory/$f.py\"; sleep 0.3; "
          "echo \"  → planning changes for $f\"; sleep 0.4; done; "
          "echo 'Running pytest -q'; sleep 0.5; echo '12 passed in 0.41s'")
FINISHED = [
    ("Add type hints to the models",
     "sed -i 's/def __init__(self, name, qty):/def __init__(self, name: str, qty: int) -> None:/' "
     "src/inventory/models.py && echo 'Updated src/inventory/models.py' && "
     "printf 'from inventory.models import Item\\n\\n\\ndef test_item():\\n    assert Item(\"a\", 1).qty == 1\\n' "
     "> tests/test_models.py && echo 'Added tests/test_models.py'"),
    ("Paginate list_items",
     "printf 'def list_items(db, limit: int = 50, offset: int = 0):\\n    \"\"\"One page of items.\"\"\"\\n"
     "    return db.all()[offset:offset + limit]\\n' > src/inventory/api.py && echo 'Rewrote list_items with paging'"),
    ("Document the API in the README",
     "printf '\\n## API\\n\\n- `list_items(db, limit, offset)`: one page of items.\\n' >> README.md"),
]
COSTS = (0.21, 0.08, 0.03)
# Three hunks in store.py (one of them is left out in the review) and a line in models.py,
# which "Add type hints to the models" changes too: both are marked as overlapping.
HUNKS = ("Validate keys in the store",
         r"sed -i -e 's/^    return db.get(key)/    if not key:\n        raise KeyError(key)\n"
         r"    return db.get(key)/' -e 's/return db.expire(key)/return db.expire(key, ttl=60)/' "
         r"-e 's/return db.scan(key)/return list(db.scan(key))/' src/inventory/store.py && "
         r"printf '\n\nMAX_QTY = 10_000\n' >> src/inventory/models.py")
# Best-of-N: one prompt for three agents, each doing it its own way.
CACHES = (r"from functools import lru_cache\n\n\n@lru_cache\ndef list_items(db):\n"
          r"    return tuple(db.all())\n",
          r"_CACHE = {}\n\n\ndef list_items(db):\n    if id(db) not in _CACHE:\n"
          r"        _CACHE[id(db)] = db.all()\n    return _CACHE[id(db)]\n",
          r"def list_items(db, cache=None):\n    if cache is not None and 'items' in cache:\n"
          r"        return cache['items']\n    items = db.all()\n    if cache is not None:\n"
          r"        cache['items'] = items\n    return items\n")
BEST_OF = ("Cache list_items",
           "n=$VARIANT; case $n in "
           + " ".join(f"{n}) printf \"{text}\" > src/inventory/api.py;;"
                      for n, text in enumerate(CACHES)) + " esac; sleep $n; "
           r"""printf '{"type":"result","num_turns":3,"total_cost_usd":0.0%s,"""
           r""""usage":{"input_tokens":%s,"output_tokens":%s}}\n' """
           "$((n + 4)) $((n * 900 + 4000)) $((n * 90 + 400))")
# A batch for the Reports tab: one docstring task per module, of varying cost and time.
# Titled by file name, short enough for the charts' axis labels.
BATCH = [("src/inventory/models.py", 0.12, 1.0), ("src/inventory/api.py", 0.05, 0.5),
         ("src/inventory/store.py", 0.31, 3.0), ("src/inventory/cli.py", 0.18, 2.0),
         ("tests/test_api.py", 0.02, 0.2)]
RUNNING = ["Refactor the store layer", "Fix the flaky CLI test", "Add structured logging",
           "Upgrade the HTTP client", "Write a migration for quantities", "Speed up search"]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def make_repo(path: Path) -> Path:
    for name, text in REPO_FILES.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "init", "-q", "-b", "main")
    git(path, "-c", "user.email=dev@example.com", "-c", "user.name=Dev", "add", "-A")
    git(path, "-c", "user.email=dev@example.com", "-c", "user.name=Dev", "commit", "-qm", "initial")
    return path


async def wait_for(predicate, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("screenshot scene did not settle")
        await asyncio.sleep(0.1)


async def scene(app: QApplication, root: Path) -> None:
    repo = make_repo(root / "inventory")
    (root / "home").mkdir()
    (root / "home" / "agents.toml").write_text(PROFILE)
    session = await Session.open(root / "home", default_runtime="local", max_parallel=8)
    window, engine = session.window, session.ctx.engine
    window.resize(1440, 880)
    window.show()
    done = [await engine.submit(repo, spent(script, cost), title=title, agent=AGENT)
            for (title, script), cost in zip(FINISHED, COSTS)]
    hunks = await engine.submit(repo, spent(HUNKS[1], 0.14), title=HUNKS[0], agent=AGENT)
    failed = await engine.submit(repo, "echo 'Running mypy'; echo 'error: 3 type errors' >&2; exit 1",
                                 title="Make mypy strict")
    group = await engine.submit_group(repo, BEST_OF[1], title=BEST_OF[0], agents=AGENTS)
    batch = await engine.submit_batch(BatchSpec("docstrings", tuple(
        TaskSpec(spent(f"sleep 0.1; echo '\"\"\"Docstrings.\"\"\"' >> {path}", cost, seconds),
                 str(repo), Path(path).name, AGENT) for path, cost, seconds in BATCH)))
    waiting = [*done, hunks, *group, *batch]
    await wait_for(lambda: all(window.model.task(t.id) and window.model.task(t.id).review
                               is ReviewState.PENDING for t in waiting), timeout=60)
    await wait_for(lambda: window.model.task(failed.id).state is TaskState.FAILED)
    for title in RUNNING:
        await engine.submit(repo, CHATTY + "; sleep 60", title=title)
    await engine.submit(repo, "echo later", title="Nightly dependency bump",
                        not_before=__import__("time").time() + 6 * 3600)
    await wait_for(lambda: len(window.wall.tiles()) == len(RUNNING))
    await window.refresh_overlaps()
    await asyncio.sleep(2.2)
    window.split.setSizes([1020, 420])  # the whole table, up to its Overlap column
    window.open_task(done[0].id)
    await asyncio.sleep(0.6)
    window.grab().save(str(OUT / "main-window.png"))
    window.actions_["show_wall"].trigger()
    await asyncio.sleep(0.4)
    window.grab().save(str(OUT / "wall.png"))
    window.open_task(done[1].id)
    window.actions_["show_review"].trigger()
    await wait_for(lambda: bool(window.review.panel.files))
    await asyncio.sleep(0.8)
    window.grab().save(str(OUT / "review.png"))
    await grab_hunks(window, hunks.id)
    await grab_compare(window, group[0].id)
    await grab_reports(window, batch[0].batch_id)
    await grab_storage(window)
    await grab_land_dialog(window, [done[2], done[0], batch[1]])
    await grab_batch_dialog(window, repo)
    session.theme.set_mode("dark")
    window.actions_["show_wall"].trigger()
    await asyncio.sleep(0.6)
    window.grab().save(str(OUT / "wall-dark.png"))
    window.actions_["show_list"].trigger()
    await asyncio.sleep(0.4)
    window.grab().save(str(OUT / "main-window-dark.png"))
    for task in await engine.list_tasks(state=["queued", "preparing", "running"]):
        await engine.cancel(task.id)
    await asyncio.sleep(1.0)
    await session.close()


async def grab_hunks(window, task_id: str) -> None:
    """A review in the inbox with its second hunk left out (``j``, then ``space``)."""
    window.review_task(task_id)
    panel = window.review.panel
    await wait_for(lambda: panel.task_id == task_id and len(panel.files) == 2)
    panel.tree.select_file([f.path for f in panel.files].index("src/inventory/store.py"))
    await asyncio.sleep(0.3)
    panel.next_hunk()
    panel.toggle_hunk()
    await wait_for(lambda: panel.excluded_specs() == ["src/inventory/store.py#2"])
    await asyncio.sleep(0.6)
    window.grab().save(str(OUT / "review-hunks.png"))


async def grab_compare(window, task_id: str) -> None:
    """The review of a best-of-N attempt, its siblings compared above the diff."""
    window.review_task(task_id)
    compare = window.review.compare
    await wait_for(lambda: compare.isVisible() and compare.model.rowCount() == 3
                   and window.review.panel.task_id == task_id)
    await asyncio.sleep(0.8)
    window.grab().save(str(OUT / "best-of-n.png"))


async def grab_reports(window, batch_id: str) -> None:
    """The Reports tab on the docstrings batch: its table and the two charts."""
    window.actions_["show_reports"].trigger()
    page = window.reports
    await wait_for(lambda: page.choice.findData(batch_id) >= 0)
    page.choice.setCurrentIndex(page.choice.findData(batch_id))
    page.load()
    await wait_for(lambda: page.report is not None and len(page.report.tasks) == len(BATCH)
                   and all(r.cost_usd for r in page.report.tasks))
    await asyncio.sleep(0.8)
    window.grab().save(str(OUT / "reports.png"))


async def grab_storage(window) -> None:
    """The Storage tab: each task's working copy with its size and what Clean up does."""
    window.tabs.setCurrentWidget(window.storage)
    await wait_for(lambda: window.storage.table.rowCount() > 0)
    await asyncio.sleep(0.5)
    window.grab().save(str(OUT / "storage.png"))


async def grab_land_dialog(window, tasks) -> None:
    """"Accept approved…": three approved tasks in landing order, a test command set."""
    from agentdeck.desktop.dialogs.land import LandDialog

    for task in tasks:
        await window.ctx.engine.approve(task.id)
    window.actions_["land"].trigger()
    dialog = window.findChild(LandDialog)
    await wait_for(lambda: dialog.order.count() == len(tasks))
    dialog.test.setText("python -m pytest -q")
    await asyncio.sleep(0.5)
    dialog.grab().save(str(OUT / "land-dialog.png"))
    dialog.reject()


async def grab_batch_dialog(window, repo: Path) -> None:
    """The batch dialog with a template over a glob and its preview."""
    from agentdeck.desktop.dialogs.batch import TEMPLATE, BatchDialog

    window.actions_["new_batch"].trigger()
    dialog = window.findChild(BatchDialog)
    dialog.name.setText("docstrings")
    dialog.repo.set_path(str(repo))
    dialog.tabs.setCurrentIndex(TEMPLATE)
    dialog.template.setPlainText("Add Google-style docstrings to every public function in {path}")
    dialog.globs.setText("src/**/*.py, tests/*.py")
    await wait_for(lambda: dialog.preview.rowCount() > 0 and dialog.repo.info is not None)
    await asyncio.sleep(0.5)
    dialog.grab().save(str(OUT / "batch-dialog.png"))
    dialog.reject()


def main() -> int:
    app = QApplication(sys.argv)
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as tmp, loop:
        loop.run_until_complete(scene(app, Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
