"""Settings, shortcuts and notifications."""
from __future__ import annotations

from PySide6.QtGui import QKeySequence

from agentdeck.desktop.commands import COMMANDS
from agentdeck.desktop.dialogs.new_task import NewTaskDialog
from agentdeck.desktop.dialogs.settings import SettingsDialog
from agentdeck.desktop.dialogs.shortcuts import ShortcutsDialog
from agentdeck.desktop.window.notify import Notifier, transition_message
from agentdeck.desktop.ui_state import UiState
from agentdeck.engine.models import ReviewState, TaskState
from tests.desktop.appkit import run, running, snapshot


def test_shortcuts_dialog_lists_every_bound_key(qtbot, qapp):
    dialog = ShortcutsDialog()
    qtbot.addWidget(dialog)
    keys = {dialog.table.item(row, 0).text() for row in range(dialog.table.rowCount())}
    native = QKeySequence.SequenceFormat.NativeText
    expected = {QKeySequence(c.keys).toString(native) for c in COMMANDS if c.keys}
    assert keys == expected
    for required in ("Ctrl+N", "Ctrl+Shift+N", "A", "R", "N", "Ctrl+1", "Ctrl+2", "Ctrl+F",
                     "Del", "Ctrl+R"):
        assert QKeySequence(required).toString(native) in keys


def test_window_actions_carry_the_documented_shortcuts(qtbot, open_session, tmp_path):
    window = open_session(tmp_path / "home").window
    assert window.actions_["new_task"].shortcut() == QKeySequence("Ctrl+N")
    assert window.actions_["show_wall"].shortcut() == QKeySequence("Ctrl+1")
    window.actions_["show_wall"].trigger()
    assert window.tabs.currentWidget() is window.wall
    window.actions_["find"].trigger()
    assert window.tabs.currentWidget() is window.split


def _settings(qtbot, window) -> SettingsDialog:
    window.actions_["settings"].trigger()
    dialog = window.findChild(SettingsDialog)
    qtbot.waitUntil(lambda: dialog.secrets.note.text() != "", timeout=10_000)
    return dialog


def test_api_keys_page_stores_keys_where_the_engine_finds_them(
        qtbot, open_session, tmp_path, memory_keyring, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    session = open_session(tmp_path / "home")
    window, engine = session.window, session.ctx.engine
    dialog = _settings(qtbot, window)
    field = dialog.secrets.fields["ANTHROPIC_API_KEY"]
    assert field.placeholderText() == "not set"
    field.setText("sk-typed")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: window.findChild(SettingsDialog) is None, timeout=10_000)
    assert run(qtbot, engine.find_secret("ANTHROPIC_API_KEY")) == "sk-typed"
    assert memory_keyring.items == {("agentdeck", "ANTHROPIC_API_KEY"): "sk-typed"}


def test_settings_reject_bad_profiles_with_the_line_and_save_good_ones(qtbot, open_session, tmp_path):
    session = open_session(tmp_path / "home")
    window, engine = session.window, session.ctx.engine
    dialog = _settings(qtbot, window)
    dialog.profiles.setPlainText('[profiles.fast]\nkind = "shell"\ncommand = ["sh", "-c", "{prompt}"]\ntimeout = "soon"\n')
    dialog.save_button.click()
    assert "line 4" in dialog.profiles_status.text()
    assert dialog.isVisible() and not (engine.home / "agents.toml").exists()
    dialog.profiles.setPlainText('[profiles.fast]\nkind = "shell"\ncommand = ["sh", "-c", "{prompt}"]\ntimeout = 60\n')
    dialog.max_parallel.setValue(3)
    dialog.save_button.click()
    qtbot.waitUntil(lambda: window.findChild(SettingsDialog) is None, timeout=10_000)
    assert run(qtbot, engine.get_settings())["max_parallel"] == 3
    assert "fast" in run(qtbot, engine.profiles())
    assert "[profiles.fast]" in (engine.home / "agents.toml").read_text()
    assert window.statusBar().currentMessage() == "Settings saved"


def test_transition_messages():
    queued = snapshot("a", title="Fix it")
    assert transition_message(None, queued) is None
    assert transition_message(queued, running("a", title="Fix it")) is None
    done = snapshot("a", title="Fix it", state=TaskState.SUCCEEDED)
    assert transition_message(running("a", title="Fix it"), done) == "“Fix it” finished"
    review = done.with_(review=ReviewState.PENDING)
    assert transition_message(done, review) == "“Fix it” is ready to review"
    failed = snapshot("a", title="Fix it", state=TaskState.FAILED)
    assert transition_message(running("a"), failed) == "“Fix it” failed"


def test_notifier_announces_once_and_can_be_switched_off(qtbot, tmp_path):
    state = UiState(tmp_path / "ui.ini")
    notifier = Notifier(state)
    shown: list[str] = []
    notifier.notified.connect(lambda _title, body: shown.append(body))
    notifier.seed([running("a", title="A"), running("b", title="B")])
    notifier.on_tasks_changed([snapshot("a", title="A", state=TaskState.FAILED)])
    notifier.on_tasks_changed([snapshot("a", title="A", state=TaskState.FAILED)])
    assert shown == ["“A” failed"]
    notifier.set_enabled(False)
    assert UiState(tmp_path / "ui.ini").notifications() is False
    notifier.on_tasks_changed([snapshot("b", title="B", state=TaskState.SUCCEEDED)])
    assert shown == ["“A” failed"]


def test_choosing_the_dark_theme_repaints_the_app(qtbot, open_session, qapp, tmp_path):
    from PySide6.QtGui import QPalette

    original = qapp.palette()
    try:
        session = open_session(tmp_path / "home")
        window = session.window
        dialog = _settings(qtbot, window)
        dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
        dialog.save_button.click()
        qtbot.waitUntil(lambda: window.findChild(SettingsDialog) is None, timeout=10_000)
        assert qapp.palette().color(QPalette.ColorRole.Window).lightness() < 80
        assert session.ctx.ui_state.theme() == "dark"
        assert window.theme.dark
    finally:
        qapp.setPalette(original)


def test_the_new_task_dialog_says_what_the_chosen_profile_runs(qtbot, open_session, tmp_path):
    """Beside the profile: its description, e.g. that the shell profile runs /bin/sh, not bash."""
    window = open_session(tmp_path / "home").window
    window.actions_["new_task"].trigger()
    dialog = window.findChild(NewTaskDialog)
    qtbot.waitUntil(lambda: dialog.settings.agent.count() > 0)
    assert dialog.settings.agent.currentData() == "shell"
    assert "/bin/sh" in dialog.settings.about_agent.text()
    assert "not bash" in dialog.settings.about_agent.text()
    dialog.settings.agent.setCurrentIndex(dialog.settings.agent.findData("claude"))
    assert dialog.settings.about_agent.text().startswith("Claude Code")
    dialog.reject()


def test_settings_show_each_docker_endpoints_own_slots(qtbot, open_session, tmp_path):
    """The per-endpoint limit behind "Tasks in parallel" is shown, and a bad line named."""
    window = open_session(tmp_path / "home").window
    dialog = _settings(qtbot, window)
    dialog.endpoints.setPlainText("box tcp://10.0.0.5:2376 3\nlocal default 2")
    assert "box (tcp://10.0.0.5:2376) 3" in dialog.endpoint_slots.text()
    assert "local (" in dialog.endpoint_slots.text() and ") 2;" in dialog.endpoint_slots.text()
    dialog.endpoints.setPlainText("box nowhere 3")
    assert dialog.endpoint_slots.text().startswith("cannot read the Docker endpoint 'box nowhere 3'")
    dialog.reject()


def test_settings_switch_freshening_after_an_accept(qtbot, open_session, tmp_path,
                                                    memory_keyring):
    session = open_session(tmp_path / "home")
    window, engine = session.window, session.ctx.engine
    dialog = _settings(qtbot, window)
    assert not dialog.freshen_after_accept.isChecked()
    dialog.freshen_after_accept.setChecked(True)
    dialog.save_button.click()
    qtbot.waitUntil(lambda: window.findChild(SettingsDialog) is None, timeout=10_000)
    assert run(qtbot, engine.get_settings())["freshen_after_accept"] is True
    assert _settings(qtbot, window).freshen_after_accept.isChecked()
