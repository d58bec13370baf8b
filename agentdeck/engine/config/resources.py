"""Where the files shipped with agentdeck (``agentdeck/resources/``) live.

They are found through `importlib.resources`, so the same code works from a source checkout,
an editable install, an installed wheel and a PyInstaller bundle (whose frozen importer
answers for the data files it collected under ``sys._MEIPASS``). Zipped installs are not
supported: the Docker build context, the sample repo and the supervisor need real files.
"""
from __future__ import annotations

import sys
from functools import cache
from importlib.resources import files
from pathlib import Path

from agentdeck.engine.errors import AgentdeckError

PACKAGE = "agentdeck"
FOLDER = "resources"
USER_GUIDE = "user-guide.md"


class ResourcesMissing(AgentdeckError):
    """agentdeck's own files are not where the installed package says they are."""


@cache
def package_root() -> Path:
    """The directory holding the ``agentdeck`` package (a checkout, site-packages, or the
    unpacked bundle): what a fresh interpreter must have on ``sys.path`` to import it."""
    return _package_dir().parent


@cache
def resources_dir() -> Path:
    """The ``agentdeck/resources/`` directory of the running installation.

    Raises:
        ResourcesMissing: it is absent (a broken or zipped install).
    """
    path = _package_dir() / FOLDER
    if not (path / "agents.toml").is_file():
        raise ResourcesMissing(f"agentdeck's resources are missing from {path}: reinstall "
                               "agentdeck (pip install --force-reinstall agentdeck)")
    return path


def resource_path(*parts: str) -> Path:
    """A path inside ``agentdeck/resources/``, e.g. ``resource_path("agents.toml")``."""
    return resources_dir().joinpath(*parts)


def user_guide() -> Path | None:
    """The user guide (``user-guide.md``) of this installation, or ``None``: in a source
    checkout ``docs/`` beside the package; in an installed one the packaged copy under
    ``resources/docs/`` or the system's ``share/doc/agentdeck/``."""
    candidates = (package_root() / "docs", _package_dir() / FOLDER / "docs",
                  Path(sys.prefix) / "share" / "doc" / "agentdeck")
    for folder in candidates:
        if (folder / USER_GUIDE).is_file():
            return folder / USER_GUIDE
    return None


def _package_dir() -> Path:
    root = files(PACKAGE)
    if not isinstance(root, Path):
        raise ResourcesMissing(f"agentdeck is installed as {root}, which is not a folder: "
                               "install it unzipped (pip install agentdeck)")
    return root.resolve()
