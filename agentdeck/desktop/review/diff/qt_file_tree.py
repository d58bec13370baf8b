"""The changed-files tree of the review panel (a `QTreeView` over `QtFileTreeModel`)."""
from __future__ import annotations

from PySide6.QtCore import (QModelIndex, QPersistentModelIndex, QPointF, QRect, QRectF, QSize,
                            Qt, Signal)
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QFrame, QHeaderView, QStyle,
                               QStyledItemDelegate, QStyleOptionViewItem, QTreeView, QWidget)

from agentdeck.desktop.review.diff.patch import FilePatch, FileStatus
from agentdeck.desktop.review.diff.qt_file_tree_model import (COUNTS_ROLE, STATUS_COLOURS, STATUS_LETTERS,
                                             STATUS_ROLE, QtFileTreeModel)
from agentdeck.desktop.widgets.theme import LIGHT, Theme, palette_for

Index = QModelIndex | QPersistentModelIndex


class _NameDelegate(QStyledItemDelegate):
    """File names with a coloured status letter (A/M/D/R/B/P) and a check box drawn in
    theme colours (the style's own box is near invisible on a dark palette)."""

    def __init__(self, parent: QWidget, theme: Theme) -> None:
        super().__init__(parent)
        self.theme = theme
        self._icons: dict[tuple[str, FileStatus], QIcon] = {}
        self._checks: dict[tuple[str, Qt.CheckState], QPixmap] = {}

    def initStyleOption(self, option: QStyleOptionViewItem, index: Index) -> None:  # noqa: N802
        super().initStyleOption(option, index)
        status = index.data(STATUS_ROLE)
        if status is not None:
            option.icon = self._badge(status)
            option.features |= QStyleOptionViewItem.ViewItemFeature.HasDecoration
            option.decorationSize = QSize(16, 16)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        if not opt.features & opt.ViewItemFeature.HasCheckIndicator:
            return
        # The style's own check box is painted over: its outline vanishes on dark palettes.
        box = style.subElementRect(QStyle.SubElement.SE_ItemViewItemCheckIndicator, opt, widget)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        painter.fillRect(box, self.theme.color("selection" if selected else "surface"))
        painter.drawPixmap(QRect(box.center().x() - 7, box.center().y() - 7, 15, 15),
                           self._check(Qt.CheckState(opt.checkState)))

    def _check(self, state: Qt.CheckState) -> QPixmap:
        key = (self.theme.name, state)
        if key not in self._checks:
            self._checks[key] = _check_pixmap(state, self.theme)
        return self._checks[key]

    def _badge(self, status: FileStatus) -> QIcon:
        key = (self.theme.name, status)
        if key not in self._icons:
            self._icons[key] = QIcon(_letter_pixmap(
                STATUS_LETTERS[status], self.theme.color(STATUS_COLOURS[status])))
        return self._icons[key]


class _CountsDelegate(QStyledItemDelegate):
    """Paints "+12 −3" with the added part green and the removed part red."""

    def __init__(self, parent: QWidget, theme: Theme) -> None:
        super().__init__(parent)
        self.theme = theme

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        # Only a selection background and two numbers: no style call needed (they are slow).
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, self.theme.color("selection"))
        added, removed = index.data(COUNTS_ROLE)
        right = QRect(option.rect).adjusted(0, 0, -8, 0)
        painter.save()
        # Zero counts are left out: a binary or renamed file shows no "+0 −0" noise.
        for count, sign, colour in ((removed, "−", "del_fg"), (added, "+", "add_fg")):
            if count:
                text = f"{sign}{count}"
                painter.setPen(self.theme.color(colour))
                painter.drawText(right, Qt.AlignmentFlag.AlignRight |
                                 Qt.AlignmentFlag.AlignVCenter, text)
                right.adjust(0, 0, -(option.fontMetrics.horizontalAdvance(text) + 6), 0)
        painter.restore()


def _check_pixmap(state: Qt.CheckState, theme: Theme) -> QPixmap:
    """A 15 px check box drawn at 4x (sharp when scaled down or on HiDPI screens)."""
    pixmap = QPixmap(60, 60)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(4, 4)
    on = state != Qt.CheckState.Unchecked
    painter.setPen(QPen(theme.color("link" if on else "muted"), 1.2))
    painter.setBrush(theme.color("link" if on else "base"))
    painter.drawRoundedRect(QRectF(0.6, 0.6, 13.8, 13.8), 3, 3)
    painter.setPen(QPen(theme.color("accent_text"), 1.8, Qt.PenStyle.SolidLine,
                        Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
    if state == Qt.CheckState.Checked:
        painter.drawPolyline([QPointF(4, 7.7), QPointF(6.5, 10.3), QPointF(11.3, 4.9)])
    elif state == Qt.CheckState.PartiallyChecked:
        painter.drawLine(QPointF(4.5, 7.5), QPointF(10.5, 7.5))
    painter.end()
    return pixmap


def _letter_pixmap(letter: str, colour: QColor) -> QPixmap:
    pixmap = QPixmap(32, 32)  # drawn at 2x so it stays sharp on HiDPI screens
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    fill = QColor(colour)
    fill.setAlpha(40)
    painter.setBrush(fill)
    painter.drawRoundedRect(1, 1, 30, 30, 7, 7)
    font = QFont()
    font.setPixelSize(19)
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(colour)
    painter.drawText(QRect(0, 0, 32, 32), Qt.AlignmentFlag.AlignCenter, letter)
    painter.end()
    return pixmap


class QtFileTree(QTreeView):
    """Changed files with status, counts and include checkboxes.

    Signals:
        file_selected(int): the user moved to file number N of the patch.
    """

    file_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None, theme: Theme = LIGHT) -> None:
        super().__init__(parent)
        self.files_model = QtFileTreeModel(self, theme)
        self.setModel(self.files_model)
        self._names = _NameDelegate(self, theme)
        self._counts = _CountsDelegate(self, theme)
        self.setItemDelegateForColumn(0, self._names)
        self.setItemDelegateForColumn(1, self._counts)
        self.setHeaderHidden(True)
        self.setUniformRowHeights(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setIndentation(14)
        self.setIconSize(QSize(16, 16))
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # Fixed, sized once per patch: ResizeToContents would ask every row for its size.
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        self.selectionModel().currentChanged.connect(self._on_current_changed)
        self.set_theme(theme)

    def set_files(self, files: list[FilePatch], unsafe: dict[str, str],
                  warnings: dict[str, str] | None = None,
                  hunks: dict[str, int] | None = None) -> None:
        """Show the files of a patch, all folders open (see `QtFileTreeModel.set_files`)."""
        self.files_model.set_files(files, unsafe, warnings, hunks)
        self.expandAll()
        added = max((f.added for f in files), default=0)
        removed = max((f.removed for f in files), default=0)
        self.header().resizeSection(1, self.fontMetrics().horizontalAdvance(
            f"+{added}  −{removed}") + 20)

    def select_file(self, file: int) -> None:
        """Make file number ``file`` the current one (emits `file_selected`)."""
        self.setCurrentIndex(self.files_model.index_of_file(file))

    def set_theme(self, theme: Theme) -> None:
        """Repaint in ``theme``'s colours."""
        self._names.theme = self._counts.theme = theme
        self.setPalette(palette_for(theme))
        self.files_model.set_theme(theme)
        self.setStyleSheet(
            f"QTreeView {{ background: {theme.surface}; color: {theme.text}; border: none;"
            f" outline: 0; }}"
            f"QTreeView::item {{ padding: 3px 2px; }}"
            f"QTreeView::item:selected {{ background: {theme.selection}; color: {theme.text}; }}")

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        file = self.files_model.file_at(current)
        if file is not None:
            self.file_selected.emit(file)
