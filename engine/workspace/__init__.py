"""The engine's git work: snapshots, working copies, captured diffs and accepts.

See docs/workspace.md for the design.
"""
from engine.workspace.types import DiffResult, FileChange, RepoInfo
from engine.workspace.workspace import Workspace

__all__ = ["DiffResult", "FileChange", "RepoInfo", "Workspace"]
