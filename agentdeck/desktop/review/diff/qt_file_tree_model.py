"""The model of the changed-files tree: status, +/- counts, include/exclude checkboxes.

Folders group files (single-child folder chains are merged, "src/app/ui"); a folder's
checkbox is the summary of its files and sets them all. A file's checkbox is the summary
of its units (its hunks, or the whole file): partly checked when some hunks are left out. Files listed as unsafe start
unchecked, with the reason as their tooltip; flagged files (a warning) stay checked. Both
are marked with "⚠". Names are shown escaped (``\n``, ``\x1b``): never a raw control
character.
"""
from __future__ import annotations

import html

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from agentdeck.desktop.review.diff.patch import FilePatch, FileStatus
from agentdeck.desktop.widgets.theme import LIGHT, Theme
from agentdeck.engine.api import escape_name

Index = QModelIndex | QPersistentModelIndex
CheckState = Qt.CheckState
STATUS_LETTERS = {FileStatus.ADDED: "A", FileStatus.MODIFIED: "M", FileStatus.DELETED: "D",
                  FileStatus.RENAMED: "R", FileStatus.BINARY: "B", FileStatus.MODE: "P"}
STATUS_COLOURS = {FileStatus.ADDED: "add_fg", FileStatus.MODIFIED: "warn_fg",
                  FileStatus.DELETED: "del_fg", FileStatus.RENAMED: "link",
                  FileStatus.BINARY: "muted", FileStatus.MODE: "muted"}
COUNTS_ROLE = Qt.ItemDataRole.UserRole + 1   # (added, removed) of a file or folder
STATUS_ROLE = Qt.ItemDataRole.UserRole + 2   # FileStatus of a file, None for a folder


@dataclass(eq=False)
class _Node:
    name: str
    parent: "_Node | None" = None
    children: list["_Node"] = field(default_factory=list)
    file: int | None = None    # index into the patch's files
    added: int = 0
    removed: int = 0
    position: int = 0          # row under the parent, kept so `parent()` is O(1)

    def row(self) -> int:
        return self.position

    def leaves(self) -> list["_Node"]:
        if self.file is not None:
            return [self]
        return [leaf for child in self.children for leaf in child.leaves()]


class QtFileTreeModel(QAbstractItemModel):
    """Files of one patch as a tree. Column 0: name + checkbox, column 1: +/- counts.

    Signals:
        inclusion_changed(): a checkbox changed; read `excluded_paths`.
    """

    inclusion_changed = Signal()

    def __init__(self, parent: Any = None, theme: Theme = LIGHT) -> None:
        super().__init__(parent)
        self.theme = theme
        self.files: list[FilePatch] = []
        self.unsafe: dict[str, str] = {}
        self.warnings: dict[str, str] = {}
        self.units: list[int] = []          # per file: its hunks, or 1 (the whole file)
        self._out: dict[int, set[int]] = {}  # per file: the units (from 1) left out
        self._root = _Node("")
        self._leaf: dict[int, _Node] = {}

    def set_files(self, files: list[FilePatch], unsafe: dict[str, str],
                  warnings: dict[str, str] | None = None,
                  hunks: dict[str, int] | None = None) -> None:
        """Show ``files``; those whose path is a key of ``unsafe`` start excluded, those
        in ``warnings`` are marked (path -> what to look at); ``hunks`` gives the files
        whose hunks are included one by one (path -> how many; others are one unit)."""
        self.beginResetModel()
        self.files, self.unsafe, self.warnings = files, dict(unsafe), dict(warnings or {})
        self.units = [max(1, (hunks or {}).get(f.path, 0)) for f in files]
        self._out = {i: set(range(1, self.units[i] + 1))
                     for i, f in enumerate(files) if f.path in unsafe}
        self._root = _build_tree(files)
        self._leaf = {leaf.file: leaf for leaf in self._root.leaves() if leaf.file is not None}
        self.endResetModel()

    def excluded_paths(self) -> list[str]:
        """Paths of the files left out whole, in patch order."""
        return [self.files[i].path for i in sorted(self._out) if self._whole_out(i)]

    def excluded_specs(self) -> list[str]:
        """What Accept leaves out, in patch order: ``PATH`` for a file left out whole,
        ``PATH#N`` for each hunk left out of a file otherwise included."""
        specs = []
        for i in sorted(self._out):
            path = self.files[i].path
            whole = self._whole_out(i)
            specs += [path] if whole else [f"{path}#{n}" for n in sorted(self._out[i])]
        return specs

    def excluded_units(self, file: int) -> frozenset[int]:
        """The units (from 1) of file number ``file`` that are left out."""
        return frozenset(self._out.get(file, ()))

    def toggle_unit(self, file: int, unit: int) -> None:
        """Leave unit ``unit`` (from 1) of file ``file`` out, or take it back in."""
        out = self._out.setdefault(file, set())
        (out.discard if unit in out else out.add)(unit)
        if not out:
            del self._out[file]
        self._announce(self._leaf[file])
        self.inclusion_changed.emit()

    def _whole_out(self, file: int) -> bool:
        return len(self._out.get(file, ())) == self.units[file]

    def display_order(self) -> list[int]:
        """The file numbers in the order the tree shows them (folders first, by name)."""
        return [leaf.file for leaf in self._root.leaves() if leaf.file is not None]

    def file_at(self, index: Index) -> int | None:
        """The file number shown at ``index``, None for a folder."""
        return self._node(index).file if index.isValid() else None

    def index_of_file(self, file: int) -> QModelIndex:
        """The model index showing file number ``file``."""
        node = self._leaf[file]
        return self.createIndex(node.row(), 0, node)

    def set_theme(self, theme: Theme) -> None:
        """Use ``theme``'s colours for status letters and warnings."""
        self.theme = theme
        self.layoutChanged.emit()

    # index/parent/rowCount run for every item a view lays out: kept to the bare minimum.
    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:
        node = parent.internalPointer() if parent.isValid() else self._root
        if not (0 <= row < len(node.children) and 0 <= column < 2):
            return QModelIndex()
        return self.createIndex(row, column, node.children[row])

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        up = index.internalPointer().parent
        if up is None or up is self._root:
            return QModelIndex()
        return self.createIndex(up.row(), 0, up)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 (Qt API)
        if not parent.isValid():
            return len(self._root.children)
        return 0 if parent.column() else len(parent.internalPointer().children)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 (Qt API)
        return 2

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsUserCheckable if index.column() == 0 else base

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = self._node(index)
        if role == COUNTS_ROLE:
            return node.added, node.removed
        if role == STATUS_ROLE:
            return None if node.file is None else self.files[node.file].status
        if index.column() == 1:
            return f"+{node.added} −{node.removed}" if role == Qt.ItemDataRole.DisplayRole \
                else None
        return self._name_data(node, role)

    def setData(self, index: Index, value: Any,  # noqa: N802 (Qt API)
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() != 0 or role != Qt.ItemDataRole.CheckStateRole:
            return False
        include = CheckState(value) == CheckState.Checked
        for leaf in self._node(index).leaves():
            if include:
                self._out.pop(leaf.file, None)
            else:
                self._out[leaf.file] = set(range(1, self.units[leaf.file] + 1))
        self._announce(self._node(index))
        self.inclusion_changed.emit()
        return True

    def _name_data(self, node: _Node, role: int) -> Any:
        path = None if node.file is None else self.files[node.file].path
        if role == Qt.ItemDataRole.DisplayRole:
            flagged = path in self.unsafe or path in self.warnings
            return escape_name(node.name) + (" ⚠" if flagged else "")
        if role == Qt.ItemDataRole.CheckStateRole:
            return self._check_state(node)
        if role == Qt.ItemDataRole.ToolTipRole and path is not None:
            return self._tooltip(node.file)
        if role == Qt.ItemDataRole.ForegroundRole and path in self.unsafe:
            return self.theme.color("warn_fg")
        return None

    def _tooltip(self, file: int) -> str:
        # Rich text on purpose, with every path escaped: a file name is the agent's choice
        # and must not be taken for markup.
        fp = self.files[file]
        lines = [f"<b>{html.escape(escape_name(fp.path))}</b>", fp.status.value]
        if fp.old_path and fp.old_path != fp.path:
            lines[1] += f" from {html.escape(escape_name(fp.old_path))}"
        out = len(self._out.get(file, ()))
        if 0 < out < self.units[file]:
            lines.append(f"{self.units[file] - out} of {self.units[file]} hunks included")
        if fp.path in self.unsafe:
            lines.append(f"⚠ excluded by default: {html.escape(self.unsafe[fp.path])}")
        if fp.path in self.warnings:
            lines.append(f"⚠ {html.escape(self.warnings[fp.path])}")
        return "<br>".join(lines)

    def _check_state(self, node: _Node) -> CheckState:
        files = [leaf.file for leaf in node.leaves()]
        excluded = sum(len(self._out.get(f, ())) for f in files)
        if excluded == 0:
            return CheckState.Checked
        total = sum(self.units[f] for f in files)
        return CheckState.Unchecked if excluded == total else CheckState.PartiallyChecked

    def _announce(self, node: _Node) -> None:
        """Repaint the checkboxes of ``node``, everything under it and its folders."""
        changed = [node, *_descendants(node)]
        up = node.parent
        while up is not None and up is not self._root:
            changed.append(up)
            up = up.parent
        for item in changed:
            index = self.createIndex(item.row(), 0, item)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])

    def _node(self, index: Index) -> _Node:
        return index.internalPointer()


def _descendants(node: _Node) -> list[_Node]:
    return [d for child in node.children for d in (child, *_descendants(child))]


def _build_tree(files: list[FilePatch]) -> _Node:
    root = _Node("")
    folders: dict[tuple[str, ...], _Node] = {(): root}
    for number, fp in enumerate(files):
        *dirs, name = fp.path.split("/")
        parent = root
        for depth in range(1, len(dirs) + 1):
            key = tuple(dirs[:depth])
            if key not in folders:
                folders[key] = _Node(dirs[depth - 1], parent)
                parent.children.append(folders[key])
            parent = folders[key]
        parent.children.append(_Node(name, parent, file=number,
                                     added=fp.added, removed=fp.removed))
    _merge_chains(root)
    _sum_and_sort(root)
    return root


def _merge_chains(node: _Node) -> None:
    """Fold folders holding just one folder into one node ("src/app/ui")."""
    for child in node.children:
        while child.file is None and len(child.children) == 1 and \
                child.children[0].file is None:
            only = child.children[0]
            child.name = f"{child.name}/{only.name}"
            child.children = only.children
            for grandchild in child.children:
                grandchild.parent = child
        _merge_chains(child)


def _sum_and_sort(node: _Node) -> None:
    for child in node.children:
        _sum_and_sort(child)
    if node.file is None:
        node.added = sum(c.added for c in node.children)
        node.removed = sum(c.removed for c in node.children)
        node.children.sort(key=lambda c: (c.file is not None, c.name.lower()))
        for position, child in enumerate(node.children):
            child.position = position
