"""The review panel's "Open in editor" / "Open folder" open the task's working copy."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices

from agentdeck.engine.models import ReviewState
from tests.desktop.appkit import run
from tests.engine.enginekit import git, make_repo


class UrlCatcher(QObject):
    """Qt's own hook for the desktop's URL opener: records what would be opened."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def _pending(qtbot, open_session, tmp_path: Path, repo: Path):
    """The window, and a task of ``repo`` waiting for review in it."""
    session = open_session(tmp_path / "home")
    window = session.window
    window.show()
    task = run(qtbot, session.ctx.engine.submit(repo, "echo hi > NEW.md"))
    qtbot.waitUntil(lambda: getattr(window.model.task(task.id), "review", None)
                    is ReviewState.PENDING, timeout=20_000)
    return window, task


def test_open_in_editor_and_folder_use_the_working_copy(qtbot, open_session, tmp_path):
    window, task = _pending(qtbot, open_session, tmp_path, make_repo(tmp_path / "repo"))
    window.open_task(task.id)
    window.actions_["show_review"].trigger()
    qtbot.waitUntil(lambda: len(window.review.panel.files) == 1, timeout=10_000)
    workdir = Path(window.model.task(task.id).workdir)
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        with qtbot.waitSignal(window.review.message, timeout=10_000) as refused:
            window.review.panel.open_in_editor_requested.emit("../../escape")
        window.review.panel.open_in_editor_requested.emit("NEW.md")
        window.review.panel.open_folder_requested.emit()
        qtbot.waitUntil(lambda: len(catcher.urls) == 2, timeout=10_000)
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert "../../escape is not in the working copy" in refused.args[0]
    assert sorted(u.toLocalFile() for u in catcher.urls) == [str(workdir), str(workdir / "NEW.md")]


def test_a_change_that_cannot_be_shown_says_why_on_the_page(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    (repo / "b.txt").write_text("b\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "second")
    window, task = _pending(qtbot, open_session, tmp_path, repo)
    git(repo, "reset", "-q", "--hard", "HEAD~1")  # the task's base is rewritten away
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    window.open_task(task.id)
    window.actions_["show_review"].trigger()
    page = window.review
    qtbot.waitUntil(lambda: page.stack.currentWidget() is page.placeholder
                    and "no longer in" in page.placeholder.text(), timeout=10_000)
    assert "retry the task" in page.placeholder.text()
