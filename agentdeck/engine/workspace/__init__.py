"""The engine's git work: snapshots, working copies, captured diffs and accepts.

See docs/workspace.md for the design.
"""
from agentdeck.engine.workspace.hunks import FileHunks, Hunk
from agentdeck.engine.workspace.types import DiffResult, FileChange, RepoInfo
from agentdeck.engine.workspace.workspace import Workspace

__all__ = ["DiffResult", "FileChange", "FileHunks", "Hunk", "RepoInfo", "Workspace"]
