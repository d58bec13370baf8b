"""The review panel's "Open in editor" / "Open folder" open the task's working copy."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices

from engine.models import ReviewState
from tests.desktop.appkit import open_session, qloop, run  # noqa: F401 (fixtures)
from tests.engine.enginekit import make_repo


class UrlCatcher(QObject):
    """Qt's own hook for the desktop's URL opener: records what would be opened."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def test_open_in_editor_and_folder_use_the_working_copy(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    session = open_session(tmp_path / "home")
    window = session.window
    window.show()
    task = run(qtbot, session.ctx.engine.submit(repo, "echo hi > NEW.md"))
    qtbot.waitUntil(lambda: getattr(window.model.task(task.id), "review", None)
                    is ReviewState.PENDING, timeout=20_000)
    window.open_task(task.id)
    window.actions_["show_review"].trigger()
    qtbot.waitUntil(lambda: len(window.review.panel.files) == 1, timeout=10_000)
    workdir = Path(window.model.task(task.id).workdir)
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        window.review.panel.open_in_editor_requested.emit("NEW.md")
        window.review.panel.open_folder_requested.emit()
        window.review.panel.open_in_editor_requested.emit("../../escape")
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [u.toLocalFile() for u in catcher.urls] == [str(workdir / "NEW.md"), str(workdir)]
