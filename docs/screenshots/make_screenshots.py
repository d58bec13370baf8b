"""Regenerate the screenshots of docs/user-guide.md.

Runs the real app (real engine, shell agents on a throw-away git repo) offscreen and
grabs the main window on the Tasks, Wall and Review tabs, in light and dark.

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
from agentdeck.engine.models import ReviewState, TaskState

OUT = Path(__file__).resolve().parent

REPO_FILES = {
    "README.md": "# inventory\n\nA small inventory service.\n",
    "src/inventory/models.py": "class Item:\n    def __init__(self, name, qty):\n        self.name = name\n        self.qty = qty\n",
    "src/inventory/api.py": "def list_items(db):\n    return db.all()\n",
    "tests/test_api.py": "def test_list():\n    assert True\n",
}

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
    session = await Session.open(root / "home", default_runtime="local", max_parallel=8)
    window, engine = session.window, session.ctx.engine
    window.resize(1440, 880)
    window.show()
    done = [await engine.submit(repo, script, title=title) for title, script in FINISHED]
    failed = await engine.submit(repo, "echo 'Running mypy'; echo 'error: 3 type errors' >&2; exit 1",
                                 title="Make mypy strict")
    await wait_for(lambda: all(window.model.task(t.id) and window.model.task(t.id).review
                               is ReviewState.PENDING for t in done))
    await wait_for(lambda: window.model.task(failed.id).state is TaskState.FAILED)
    for title in RUNNING:
        await engine.submit(repo, CHATTY + "; sleep 60", title=title)
    await engine.submit(repo, "echo later", title="Nightly dependency bump",
                        not_before=__import__("time").time() + 6 * 3600)
    await wait_for(lambda: len(window.wall.tiles()) == len(RUNNING))
    await asyncio.sleep(2.2)
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
