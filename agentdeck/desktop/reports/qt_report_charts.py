"""Bar charts (QtCharts) of a report's cost and duration per task."""
from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCharts import (
    QBarCategoryAxis, QBarSeries, QBarSet, QChart, QChartView, QValueAxis,
)
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QHBoxLayout, QWidget

from agentdeck.desktop.widgets.plaintext import chart_text
from agentdeck.engine.models import TaskSummary

_LABEL_CHARS = 14


def task_labels(rows: Sequence[TaskSummary]) -> list[str]:
    """One category per task: its number and the start of its title (numbered, because
    a category axis merges equal labels), escaped (`chart_text`)."""
    return [chart_text(f"{n}. {(r.title or r.id)[:_LABEL_CHARS]}")
            for n, r in enumerate(rows, start=1)]


def time_unit(seconds: Sequence[float]) -> tuple[str, float]:
    """The unit that keeps the longest duration readable: (name, seconds per unit)."""
    longest = max(seconds, default=0.0)
    if longest >= 2 * 3600:
        return "hours", 3600.0
    return ("minutes", 60.0) if longest >= 120 else ("seconds", 1.0)


def bar_chart(title: str, labels: list[str], values: list[float], unit: str) -> QChart:
    """One bar per label, on a value axis titled ``unit`` starting at zero."""
    bars = QBarSet(unit)
    bars.append(values)
    series = QBarSeries()
    series.append(bars)
    chart = QChart()
    chart.setTitle(title)
    chart.addSeries(series)
    chart.legend().hide()
    categories = QBarCategoryAxis()
    categories.append(labels)
    chart.addAxis(categories, Qt.AlignmentFlag.AlignBottom)
    series.attachAxis(categories)
    axis = QValueAxis()
    axis.setTitleText(unit)
    axis.setRange(0, max(values, default=0) * 1.1 or 1)
    axis.setLabelFormat("%.2f" if max(values, default=0) < 10 else "%.0f")
    chart.addAxis(axis, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(axis)
    return chart


class ReportCharts(QWidget):
    """The cost chart and the duration chart, side by side."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cost_view = QChartView()
        self.time_view = QChartView()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for view in (self.cost_view, self.time_view):
            view.setRenderHint(QPainter.RenderHint.Antialiasing)
            layout.addWidget(view)
        self._dark = False

    def show_rows(self, rows: Sequence[TaskSummary]) -> None:
        """Chart ``rows``: dollars, and run time in the unit that fits the longest."""
        labels = task_labels(rows)
        durations = [r.duration or 0.0 for r in rows]
        unit, scale = time_unit(durations)
        self._set(self.cost_view,
                  bar_chart("Cost per task", labels, [r.cost_usd for r in rows], "dollars"))
        self._set(self.time_view,
                  bar_chart("Duration per task", labels, [d / scale for d in durations], unit))

    def set_dark(self, dark: bool) -> None:
        """Draw the charts in the dark or the light chart theme."""
        self._dark = dark
        for view in (self.cost_view, self.time_view):
            view.chart().setTheme(self._chart_theme())

    def _set(self, view: QChartView, chart: QChart) -> None:
        chart.setTheme(self._chart_theme())
        old = view.chart()
        view.setChart(chart)
        old.deleteLater()  # setChart leaves the old chart to its caller

    def _chart_theme(self) -> QChart.ChartTheme:
        return QChart.ChartTheme.ChartThemeDark if self._dark else QChart.ChartTheme.ChartThemeLight
