"""Diff review: patch splitting, display rows, highlighting and the review panel."""
from agentdeck.desktop.review.diff.qt_diff_review import QtDiffReview

DiffReview = QtDiffReview

__all__ = ["DiffReview", "QtDiffReview"]
