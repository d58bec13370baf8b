"""The user commands of the main window, their shortcuts and icons, in one table.

Menus, toolbar buttons and keys all trigger the same QAction, and Help → Shortcuts is
generated from this table, so the list can never drift from what the keys do.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from agentdeck.desktop.widgets.icons import icon


@dataclass(frozen=True)
class Command:
    """One user command.

    Attributes:
        name: key used in code (``actions["accept"]``).
        text: menu text.
        keys: shortcut in QKeySequence portable text ("" for none).
        icon: agentdeck/resources/icons name ("" for none).
        help: one line shown in tooltips and the shortcuts list.
    """

    name: str
    text: str
    keys: str
    icon: str
    help: str


COMMANDS: tuple[Command, ...] = (
    Command("new_task", "&New task…", "Ctrl+N", "new-task", "Start one agent task"),
    Command("new_batch", "New &batch…", "Ctrl+Shift+N", "batch",
            "Start many tasks from a list or a template"),
    Command("show_wall", "&Wall", "Ctrl+1", "wall", "Tiles of the running tasks"),
    Command("show_list", "&Tasks", "Ctrl+2", "list", "The task table with log and details"),
    Command("show_review", "&Review", "Ctrl+3", "review", "The diff of the selected task"),
    Command("show_reports", "Re&ports", "Ctrl+4", "reports",
            "How a batch or last night went: each task, charts of cost and duration"),
    Command("find", "&Find…", "Ctrl+F", "search", "Search tasks by title, prompt or id"),
    Command("accept", "&Accept", "A", "accept", "Commit the reviewed change to the repository"),
    Command("reject", "&Reject", "R", "reject", "Discard the change of the selected tasks"),
    Command("comment", "&Comment on lines…", "C", "",
            "Comment on the selected diff lines, for the agent's follow-up"),
    Command("request_changes", "Request c&hanges", "", "",
            "Send the comments and what you left out back to the agent as a follow-up"),
    Command("next_hunk", "Ne&xt hunk", "J", "", "Go to the next hunk of the diff (across files)"),
    Command("previous_hunk", "Pre&vious hunk", "K", "", "Go to the previous hunk of the diff"),
    Command("toggle_hunk", "&Include or leave out hunk", "Space", "",
            "Leave the current hunk out of the accept, or take it back in"),
    Command("approve", "A&pprove for landing", "Ctrl+Shift+A", "",
            "Mark the selected waiting tasks approved (again: take the mark away)"),
    Command("land", "Accept appro&ved…", "", "",
            "Land the approved tasks in an order you choose, testing each first"),
    Command("freshen", "&Freshen", "", "",
            "Rebase the selected waiting tasks onto their branch's current head"),
    Command("hand_back", "Freshen, hand conflicts &back", "", "",
            "Freshen; a conflicting task goes back to its agent with the conflict"),
    Command("next_review", "&Next review", "N", "next",
            "Open the next task of the review inbox, its first file shown"),
    Command("prev_review", "&Previous review", "P", "",
            "Open the previous task of the review inbox"),
    Command("undo", "&Undo reject", "Ctrl+Z", "",
            "Bring back the change of the tasks you just rejected"),
    Command("cancel", "&Cancel task", "Del", "cancel", "Stop the selected queued or running tasks"),
    Command("retry", "Re&try", "Ctrl+R", "retry", "Run the selected finished tasks again"),
    Command("collect", "Co&llect again…", "", "",
            "Copy back a change that was over a limit, from its kept container"),
    Command("settings", "&Settings…", "Ctrl+,", "settings", "Runtimes, parallelism, profiles, keys"),
    Command("shortcuts", "&Keyboard shortcuts", "Ctrl+/", "keyboard", "This list"),
    Command("user_guide", "&User guide", "F1", "", "Open the user guide"),
    Command("quit", "&Quit", "Ctrl+Q", "", "Close agentdeck (running tasks keep running)"),
)


def make_actions(parent: QWidget) -> dict[str, QAction]:
    """One QAction per command, parented to ``parent`` (window-wide shortcuts)."""
    actions: dict[str, QAction] = {}
    for command in COMMANDS:
        action = QAction(command.text, parent)
        if command.icon:
            action.setIcon(icon(command.icon))
        if command.keys:
            action.setShortcut(QKeySequence(command.keys))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        tip = command.help + (f" ({QKeySequence(command.keys).toString(QKeySequence.SequenceFormat.NativeText)})"
                              if command.keys else "")
        action.setToolTip(tip)
        action.setStatusTip(command.help)
        parent.addAction(action)
        actions[command.name] = action
    return actions


def refresh_icons(actions: dict[str, QAction]) -> None:
    """Set the icons again (after a theme change re-tinted them)."""
    for command in COMMANDS:
        if command.icon:
            actions[command.name].setIcon(icon(command.icon))


def shortcut_rows() -> list[tuple[str, str]]:
    """(keys as shown to the user, what they do) for every command that has keys."""
    native = QKeySequence.SequenceFormat.NativeText
    return [(QKeySequence(c.keys).toString(native), f"{c.text.replace('&', '').rstrip('…')} — {c.help}")
            for c in COMMANDS if c.keys]
