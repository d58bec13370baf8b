"""Where the files shipped with agentdeck (``agentdeck/resources/``) live."""
from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """The ``agentdeck/resources/`` directory: next to the ``engine`` package in a source checkout
    or editable install, or inside the unpacked bundle of a PyInstaller build."""
    bundle = getattr(sys, "_MEIPASS", None)
    root = Path(bundle) if bundle else Path(__file__).resolve().parents[2]
    return root / "resources"


def resource_path(*parts: str) -> Path:
    """A path inside ``agentdeck/resources/``, e.g. ``resource_path("agents.toml")``."""
    return resources_dir().joinpath(*parts)
