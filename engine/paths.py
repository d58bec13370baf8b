"""Where agentdeck keeps its files: ``$AGENTDECK_HOME`` or the platform data dir."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def data_dir() -> Path:
    """The data dir (created if missing). ``AGENTDECK_HOME`` overrides the platform default."""
    override = os.environ.get("AGENTDECK_HOME")
    path = Path(override).expanduser() if override else Path(platformdirs.user_data_dir("agentdeck"))
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()
