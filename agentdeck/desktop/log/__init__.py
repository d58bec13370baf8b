"""Live task logs: ANSI parsing, a virtualized list model and the log view."""
from agentdeck.desktop.log.qt_log_model import QtLogModel
from agentdeck.desktop.log.qt_log_view import QtLogView

LogView = QtLogView
LogModel = QtLogModel

__all__ = ["LogModel", "LogView", "QtLogModel", "QtLogView"]
